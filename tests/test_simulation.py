"""Karpenter's own provisioner on what the library generates: it must launch what our
arithmetic says (ceil(N / slices per node)), the control without NodeOverlays about N, and
NodePool limits must stop at the configured slices. Where the two disagree, Karpenter is right
and the library or its docs change.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from eks_gpu_sharing import CapacityType, ExistingKarpenter, GpuPool, Mps, TimeSlicing
from eks_gpu_sharing.config import load_config
from eks_gpu_sharing.errors import ConfigurationError
from eks_gpu_sharing.plan import plan_pool
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.simulation import (
    SimulationRun,
    check_pod_counts,
    karpenter_controller_env,
    run_simulation,
    simulate,
    simulation_input,
)
from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.versions import KARPENTER_VERSION

ROOT = Path(__file__).resolve().parents[1]

T4_POOL = GpuPool("t4", sharing=TimeSlicing(replicas=4), gpu_names=["t4"], gpu_limit=100)
MIXED = GpuPool(
    "mixed", sharing=TimeSlicing(replicas=4), gpu_names=["t4"], gpu_counts=[1, 4], gpu_limit=100
)
MPS_POOL = GpuPool("mps", sharing=Mps(replicas=6), gpu_names=["l4"], gpu_limit=100)
RENAMED = GpuPool(
    "renamed",
    sharing=TimeSlicing(replicas=4, rename_by_default=True),
    gpu_names=["a10g"],
    gpu_limit=100,
)
WHOLE = GpuPool("whole", gpu_names=["t4"], gpu_limit=100)
LIMITED = GpuPool("limited", sharing=TimeSlicing(replicas=4), gpu_names=["t4"], gpu_limit=3)
SPOT = GpuPool(
    "spot",
    sharing=TimeSlicing(replicas=2),
    gpu_names=["l4"],
    capacity_types=[CapacityType.SPOT, CapacityType.ON_DEMAND],
    gpu_limit=100,
)


def run(
    harness: Upstream,
    pools: Sequence[GpuPool],
    pods: Mapping[str, int],
    *,
    overlays: bool = True,
    gate: bool = True,
) -> SimulationRun:
    inputs = simulation_input(GpuSharingSetup.for_pools(pools))
    objects = [o for o in inputs.karpenter_objects if overlays or o["kind"] != "NodeOverlay"]
    result = run_simulation(
        harness,
        label="test",
        karpenter_objects=objects,
        pod_templates=inputs.pod_templates,
        resource_names=inputs.resource_names,
        pods=pods,
        controller_env=karpenter_controller_env(
            harness, cluster_name="test", node_overlay_enabled=gate
        ),
    )
    # Every figure below holds only if every pending pod came back placed or refused.
    assert result.complete, result.unaccounted_pods
    for outcome in result.pools:
        assert outcome.scheduled_pods + outcome.unschedulable_pods == outcome.pending_pods
    return result


@pytest.mark.parametrize("pods", [1, 4, 5, 8, 40])
def test_one_gpu_types_launch_ceil_n_over_slices(harness: Upstream, pods: int) -> None:
    outcome = run(harness, [T4_POOL], {"t4": pods}).pool("t4")
    assert outcome.nodes == math.ceil(pods / 4)
    assert outcome.unschedulable == ()
    assert {claim.slices for claim in outcome.node_claims} == {4}
    # The cheapest 1-GPU T4 type, g4dn.xlarge, at Karpenter's static us-east-1 price.
    assert {claim.instance_type for claim in outcome.node_claims} == {"g4dn.xlarge"}
    assert outcome.price_per_hour == pytest.approx(0.526 * math.ceil(pods / 4))


@pytest.mark.parametrize("pods", [8, 40])
def test_without_overlays_karpenter_launches_one_gpu_per_pod(harness: Upstream, pods: int) -> None:
    outcome = run(harness, [T4_POOL], {"t4": pods}, overlays=False).pool("t4")
    assert outcome.nodes == pods
    assert {claim.slices for claim in outcome.node_claims} == {1}


def test_the_gate_comes_from_the_rendered_chart(harness: Upstream) -> None:
    """With the NodeOverlay gate off in the chart's values, Karpenter ignores the overlays."""
    simulated = run(harness, [T4_POOL], {"t4": 8}, gate=False)
    assert simulated.node_overlay_gate is False
    assert simulated.pool("t4").nodes == 8


def test_every_overlay_is_validated_by_karpenters_controller(harness: Upstream) -> None:
    simulated = run(harness, [T4_POOL, MIXED, MPS_POOL, RENAMED], {"t4": 1})
    overlays = [c for c in simulated.conditions if c[0].startswith("NodeOverlay/")]
    assert len({name for name, *_ in overlays}) == 5
    assert all(status == "True" for _, kind, status, _ in overlays if kind == "ValidationSucceeded")
    pools = [c for c in simulated.conditions if c[0].startswith("NodePool/") and c[1] == "Ready"]
    # MIXED is one NodePool per GPU count.
    assert [status for *_, status, _ in pools] == ["True"] * 5


def test_overlays_reach_every_admitted_type_and_only_their_pool(harness: Upstream) -> None:
    simulated = run(harness, [MIXED, WHOLE], {"mixed": 1})
    mixed = simulated.capacities["mixed"]
    assert mixed == {
        "g4dn.xlarge": 4,
        "g4dn.2xlarge": 4,
        "g4dn.4xlarge": 4,
        "g4dn.8xlarge": 4,
        "g4dn.16xlarge": 4,
        "g4dn.12xlarge": 16,
    }
    assert set(simulated.capacities["whole"].values()) == {1}


@pytest.mark.parametrize("pods", [10, 16, 17, 40])
def test_mixed_gpu_counts_fill_the_cheapest_count_per_slice(harness: Upstream, pods: int) -> None:
    """Karpenter keeps every instance type that still fits in a NodeClaim and adds pods while
    one does; one NodePool per GPU count, the 1-GPU one weighted first (cheaper per slice),
    keeps each NodeClaim to 4 one-slice pods on the cheapest 1-GPU type: the cheapest fleet."""
    outcome = run(harness, [MIXED], {"mixed": pods}).pool("mixed")
    assert outcome.nodes == math.ceil(pods / 4)
    assert outcome.scheduled_pods == pods
    assert {claim.instance_type for claim in outcome.node_claims} == {"g4dn.xlarge"}
    assert {claim.node_pool for claim in outcome.node_claims} == {"mixed-1gpu"}
    assert outcome.cost_ratio == 1.0


def test_mps_pools_pack_by_clients_per_gpu(harness: Upstream) -> None:
    outcome = run(harness, [MPS_POOL], {"mps": 13}).pool("mps")
    assert outcome.nodes == math.ceil(13 / 6)
    assert {claim.instance_type for claim in outcome.node_claims} == {"g6.xlarge"}


def test_renamed_slices_need_the_overlay(harness: Upstream) -> None:
    ours = run(harness, [RENAMED], {"renamed": 9}).pool("renamed")
    assert ours.nodes == 3 and ours.unschedulable == ()
    control = run(harness, [RENAMED], {"renamed": 9}, overlays=False).pool("renamed")
    assert control.nodes == 0 and control.unschedulable_pods == 9
    assert "nvidia.com/gpu.shared" in control.unschedulable[0][0]


def test_the_limit_stops_at_the_configured_slices(harness: Upstream) -> None:
    outcome = run(harness, [LIMITED], {"limited": 20}).pool("limited")
    assert outcome.scheduled_pods == plan_pool(LIMITED).slice_limit == 12
    assert outcome.nodes == 3
    assert outcome.unschedulable_pods == 8
    assert "exceed limits" in outcome.unschedulable[0][0]


def test_without_overlays_the_slice_limit_admits_four_times_the_gpus(harness: Upstream) -> None:
    """The limit is counted in slices; a cluster without the overlays counts GPUs against it."""
    outcome = run(harness, [LIMITED], {"limited": 20}, overlays=False).pool("limited")
    assert outcome.nodes == 12


def test_whole_gpus_need_no_overlay(harness: Upstream) -> None:
    ours = run(harness, [WHOLE], {"whole": 5}).pool("whole")
    control = run(harness, [WHOLE], {"whole": 5}, overlays=False).pool("whole")
    assert ours.nodes == control.nodes == 5


def test_two_pools_at_once_keep_their_pods(harness: Upstream) -> None:
    simulated = run(harness, [T4_POOL, MPS_POOL], {"t4": 9, "mps": 7})
    assert simulated.pool("t4").nodes == 3
    assert simulated.pool("mps").nodes == 2
    assert {c.instance_type for c in simulated.pool("mps").node_claims} == {"g6.xlarge"}


def test_spot_pools_launch_spot(harness: Upstream) -> None:
    outcome = run(harness, [SPOT], {"spot": 3}).pool("spot")
    assert {claim.capacity_type for claim in outcome.node_claims} == {"spot"}


# -- the user command --------------------------------------------------------------------------


def test_simulate_the_reference_config(harness: Upstream) -> None:
    config = load_config(ROOT / "gpu-sharing.yaml")
    report = simulate(config, {"inference": 40, "batch": 7}, harness=harness)
    ours, control = report.with_overlays, report.without_overlays
    inference = next(p for p in config.pools if p.name == "inference")
    assert ours.pool("inference").scheduled_pods == plan_pool(inference).slice_limit
    assert ours.pool("batch").nodes == math.ceil(7 / 2)
    assert control.nodes > ours.nodes
    table = report.format_table()
    assert "with NodeOverlays" in table and "Limits:" in table
    data = json.loads(report.to_json())
    assert data["withOverlays"]["nodes"] == ours.nodes
    assert data["withoutOverlays"]["pricePerHour"] == control.price_per_hour
    assert data["versions"]["github.com/aws/karpenter-provider-aws"] == f"v{KARPENTER_VERSION}"
    assert report.notes == () and data["notes"] == []  # the file's Karpenter is the pinned one
    assert data["schemaVersion"] == 1 and data["complete"] is True
    # One key style, Kubernetes' camelCase, for every key that is not a name.
    names = ("versions", "capacities", "daemonSets", "values")

    def keys(value: Any, parent: str = "") -> list[str]:
        if parent in names:
            return []  # below here the keys are names (and what they map to)
        if isinstance(value, dict):
            return list(value) + [k for key, v in value.items() for k in keys(v, key)]
        if isinstance(value, list):
            return [k for v in value for k in keys(v, parent)]
        return []

    found = keys(data)
    assert "nodeClaims" in found and "scheduleSeconds" in found
    assert [k for k in found if not re.fullmatch(r"[a-z][A-Za-z]*", k)] == []


def test_a_pool_over_its_limit_is_told_the_gpu_limit_that_holds_its_pods(
    harness: Upstream,
) -> None:
    """The README's example: the reference file's gpuLimit: 4 holds 16 of 40 one-slice pods.
    The advice names the gpuLimit that holds all 40, and Karpenter's scheduler, given it,
    places every pod; the 24 identical "could not schedule pod" lines print as one."""
    config = load_config(ROOT / "gpu-sharing.yaml")
    report = simulate(config, {"inference": 40}, harness=harness)
    (advice,) = [a for a in report.advice if a.startswith("inference")]
    assert "24 of 40 pod(s) would take the pool past gpuLimit: 4" in advice
    assert advice.endswith("gpuLimit: 10 would hold all 40")
    table = report.format_table()
    assert table.count("could not schedule pod") == 2  # one line per run, not one per pod
    assert "and 23 more pod(s)" in table
    assert re.search(r"^pool +pods \| nodes slices per node", table, re.MULTILINE)
    raised = dataclasses.replace(
        config,
        pools=tuple(
            dataclasses.replace(p, gpu_limit=10) if p.name == "inference" else p
            for p in config.pools
        ),
    )
    again = simulate(raised, {"inference": 40}, harness=harness)
    assert again.with_overlays.pool("inference").scheduled_pods == 40
    assert not [a for a in again.advice if a.startswith("inference")]


def test_simulate_says_when_the_setups_karpenter_is_another_release(harness: Upstream) -> None:
    config = dataclasses.replace(
        load_config(ROOT / "gpu-sharing.yaml"),
        karpenter=ExistingKarpenter(
            node_role_name="KarpenterNodeRole-gpu-slicing",
            discovery_tag_value="gpu-slicing",
            version="1.13.0",
            node_overlay_enabled=True,
        ),
    )
    report = simulate(config, {"inference": 4}, harness=harness)
    (note,) = report.notes
    assert "Your setup's Karpenter is 1.13.0" in note
    assert f"scheduler of {KARPENTER_VERSION}" in note
    assert "Note:" in report.format_table() and json.loads(report.to_json())["notes"] == [note]


def test_pod_counts_are_checked() -> None:
    pools = [T4_POOL]
    with pytest.raises(ConfigurationError, match="names no pool"):
        check_pod_counts(pools, {"nope": 1})
    with pytest.raises(ConfigurationError, match="0 to 4000"):
        check_pod_counts(pools, {"t4": 10**9})
    with pytest.raises(ConfigurationError, match="say how many"):
        check_pod_counts(pools, {})


def cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eks_gpu_sharing.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_cli_simulate_json(harness: Upstream) -> None:
    result = cli("simulate", "--pods", "inference=8", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    (inference,) = [p for p in data["withOverlays"]["pools"] if p["pool"] == "inference"]
    assert inference["nodes"] == 2


def test_cli_simulate_bad_pods_exit_2() -> None:
    result = cli("simulate", "--pods", "inference=lots")
    assert result.returncode == 2
    assert "--pods='inference=lots'" in result.stderr


def test_cli_simulate_without_go_says_how_to_get_it(tmp_path: Path) -> None:
    result = cli(
        "simulate",
        "--pods",
        "inference=1",
        env={"EKS_GPU_SHARING_GO": str(tmp_path / "no-go"), "EKS_GPU_SHARING_CACHE": str(tmp_path)},
    )
    assert result.returncode == 3
    assert "https://go.dev/dl/" in result.stderr


# -- what the simulator taught the library ----------------------------------------------------


def test_catalog_admission_is_karpenters(harness: Upstream) -> None:
    """The Python side's reading of a pool's requirements (used for checks and advice without
    Go) admits exactly the instance types Karpenter offers the NodePool."""
    from tests.pools import ALL_POOLS

    simulated = run(harness, ALL_POOLS, {})
    for pool in ALL_POOLS:
        priced = {
            t.name for t in pool.admitted_instance_types() if t.on_demand_price_per_hour is not None
        }
        offered = set(simulated.capacities[pool.name])
        assert offered >= priced, pool.name
        assert {t.name for t in pool.admitted_instance_types()} >= offered, pool.name


def test_mixed_gpu_counts_cost_what_1_gpu_types_cost_and_need_no_advice(
    harness: Upstream,
) -> None:
    from eks_gpu_sharing.advice import pool_advice

    mixed = run(harness, [MIXED], {"mixed": 40}).pool("mixed").price_per_hour
    single = run(harness, [T4_POOL], {"t4": 40}).pool("t4").price_per_hour
    assert mixed == single
    assert pool_advice(MIXED) == pool_advice(T4_POOL) == []


def test_the_benchmark_script_runs(harness: Upstream) -> None:
    """docs/simulation.md's figures come from this script; its quick mode must keep working."""
    result = subprocess.run(
        [sys.executable, "scripts/benchmark_simulation.py", "--quick", "--runs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| 1-GPU types | 8 | 2, $1.05 (1.00x) | 8, $4.21 (4.00x)" in result.stdout


# -- no silent answers: Karpenter's Solve deadline ----------------------------------------------

#: Enough pending pods that Karpenter cannot try them all before the deadline the tests set.
_MANY_PODS = 2000
_SHORT_DEADLINE_S = 0.3


def _short_deadline(real: Callable[..., SimulationRun]) -> Callable[..., SimulationRun]:
    def run_with_short_deadline(*args: Any, **kwargs: Any) -> SimulationRun:
        return real(*args, **kwargs, solve_deadline_seconds=_SHORT_DEADLINE_S)

    return run_with_short_deadline


def test_a_round_cut_short_by_the_deadline_counts_the_pods_it_never_tried(
    harness: Upstream,
) -> None:
    """Karpenter's provisioner ignores Solve's deadline error; the pods it had not tried are
    neither in its results nor in its errors. The run says so instead of reporting fewer pods."""
    big = GpuPool("big", sharing=TimeSlicing(replicas=4), gpu_names=["l4"], gpu_limit=1000)
    inputs = simulation_input(GpuSharingSetup.for_pools([big]))
    result = run_simulation(
        harness,
        label="test",
        karpenter_objects=inputs.karpenter_objects,
        pod_templates=inputs.pod_templates,
        resource_names=inputs.resource_names,
        pods={"big": _MANY_PODS},
        controller_env=karpenter_controller_env(
            harness, cluster_name="test", node_overlay_enabled=True
        ),
        solve_deadline_seconds=_SHORT_DEADLINE_S,
    )
    outcome = result.pool("big")
    assert result.deadline_exceeded and not result.complete
    # Some or (on a machine busy with other runs) all of them: the deadline may end the round
    # before the first pod; what matters is that none is lost.
    assert 0 < outcome.unaccounted_pods <= _MANY_PODS
    assert outcome.scheduled_pods + outcome.unschedulable_pods + outcome.unaccounted_pods == (
        _MANY_PODS
    )
    # Karpenter's own log line is what tells the deadline apart from a lost pod.
    assert any(e.message == "scheduling simulation timed out" for e in result.logs)


def test_simulate_exits_4_and_names_the_pools_a_cut_round_left_out(
    harness: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The command, with the real scheduler and a deadline short enough to hit on 2,000 pods."""
    import eks_gpu_sharing.simulation as simulation
    from eks_gpu_sharing.cli import EXIT_INCOMPLETE, main

    monkeypatch.setattr(simulation, "run_simulation", _short_deadline(simulation.run_simulation))
    config = tmp_path / "gpu-sharing.yaml"
    config.write_text(
        "clusterName: c\n"
        "karpenter: {nodeRoleName: KarpenterNodeRole-c, nodeOverlayEnabled: true}\n"
        "pools:\n"
        "  - {name: big, gpuNames: [l4], gpuLimit: 1000,"
        " sharing: {mode: time-slicing, replicas: 4}}\n"
    )
    status = main(["simulate", "--config", str(config), "--pods", f"big={_MANY_PODS}"])
    out = capsys.readouterr().out
    assert status == EXIT_INCOMPLETE == 4
    assert "INCOMPLETE: Karpenter's scheduling deadline" in out
    assert "(big " in out


def test_a_cut_control_round_is_a_lower_bound_not_a_failure() -> None:
    """Above about 1,700 pods the control without overlays cannot finish a round on two cores;
    the report still counts as complete when the library's own round is, and says why."""
    from eks_gpu_sharing.simulation import PoolOutcome, SimulatedNodeClaim, SimulationReport

    claim = SimulatedNodeClaim("p", 4, ("g4dn.xlarge",), "g4dn.xlarge", "on-demand", 0.526, 4)

    def round_of(placed_claims: int, *, cut: bool) -> SimulationRun:
        outcome = PoolOutcome("p", 8, (claim,) * placed_claims, ())
        return SimulationRun("r", True, (outcome,), (), {}, {}, 1.0, deadline_exceeded=cut)

    ours, control = round_of(2, cut=False), round_of(1, cut=True)
    assert ours.complete and not control.complete and control.unaccounted_pods == 4
    report = SimulationReport(ours, control, "prices", {})
    assert report.complete
    table = report.format_table()
    assert table.count("INCOMPLETE: ") == 1 and "a lower bound" in table
    assert not SimulationReport(control, ours, "prices", {}).complete
