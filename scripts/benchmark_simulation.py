#!/usr/bin/env python3
"""What Karpenter launches for N one-slice pods, four ways, all in one run, against the minimum.

    .venv/bin/python scripts/benchmark_simulation.py            # node/cost table + timings
    .venv/bin/python scripts/benchmark_simulation.py --build    # also cold/warm Go build times
    .venv/bin/python scripts/benchmark_simulation.py --scale    # 1,000-5,000 pods, under load
    .venv/bin/python scripts/benchmark_simulation.py --shapes   # every pool shape vs the cheapest
    .venv/bin/python scripts/benchmark_simulation.py --backends # device plugin vs DRA

For N = 8, 40 and 200 pending one-slice pods on a 4-way time-sliced pool of 1-GPU types and on
one that also admits 4-GPU types, Karpenter's own provisioner (the pinned release) decides:

* ours: the objects this library generates (NodeOverlays per pool and GPU count);
* none: the same without NodeOverlays (the setup the public time-slicing guides describe);
* blueprint: one cluster-wide NodeOverlay for 1-GPU types only, as AWS's karpenter-blueprints
  ``node-overlay`` example (``instance-gpu-count In [1]`` -> ``nvidia.com/gpu: 4``);
* minimum: the cheapest fleet of the pool's admitted instance types that holds the N pods
  (eks_gpu_sharing.cheapest_fleet: an exact integer optimum over Karpenter's own allocatable,
  DaemonSet overhead and prices).

Each figure is also given as a ratio to the minimum. Then Karpenter's scheduling time for 200 and
1,000 pending pods with and without the overlays (median of --runs rounds, ratio), and with
--build the Go build: cold (empty module and build caches, modules downloaded from the proxy)
and warm (caches kept, binary removed). With --scale, how far one round reaches before
Karpenter's one-minute deadline: 1,000, 2,000 and 5,000 pending pods with and without the
overlays, while a second process keeps one CPU busy, each pod counted as placed, refused or
never tried.

With --shapes, for every pool shape the library accepts (several GPU counts, several models,
memory-sized slices, MIG, MPS, fractional GPUs, whole GPUs) and N = 5, 14, 40 and 200 pods, what
Karpenter launches before (one NodePool per pool and GPU model, the layout of 0.1) and after
(one NodePool per GPU count as well), for the sample pods and for pods requesting 1 vCPU and
4 GiB, each against the cheapest fleet computed from Karpenter's own figures for the same pods
(eks_gpu_sharing.cheapest_fleet).

With --backends, the same two pools (4 shares per GPU) with the device-plugin backend and with
the DRA backend (the NVIDIA DRA driver's consumable shares, Karpenter's DRANVIDIAGPU gate), for
N = 8, 40 and 200 pods with the sample's requests and with 1 vCPU / 4 GiB per pod: nodes, $/h,
Karpenter's scheduling time (median of --runs rounds) and the ratio to the cheapest fleet.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "constructs"))
sys.path.insert(0, str(ROOT))  # tests/pool_shapes.py: the shapes the tests check too

import copy  # noqa: E402
import dataclasses  # noqa: E402

import eks_gpu_sharing.plan as plan_module  # noqa: E402
from eks_gpu_sharing import GpuPool, TimeSlicing  # noqa: E402
from eks_gpu_sharing.catalog import load_catalog  # noqa: E402
from eks_gpu_sharing.pool_options import Backend  # noqa: E402
from eks_gpu_sharing.setup import GpuSharingSetup  # noqa: E402
from eks_gpu_sharing.simulation import (  # noqa: E402
    MAX_PODS_PER_POOL,
    PodGroup,
    SimulationRun,
    karpenter_controller_env,
    run_simulation,
    simulation_input,
)
from eks_gpu_sharing.upstream import GO_MODULE_DIR, Upstream, upstream  # noqa: E402
from eks_gpu_sharing.upstream.harness import go_command  # noqa: E402
from tests.pool_shapes import SHAPES  # noqa: E402

GPUS = ["t4", "a10g", "l4"]
POOLS = {
    "1-GPU types": GpuPool(
        "single", sharing=TimeSlicing(replicas=4), gpu_names=GPUS, gpu_limit=1000
    ),
    "1- and 4-GPU types": GpuPool(
        "mixed", sharing=TimeSlicing(replicas=4), gpu_names=GPUS, gpu_counts=[1, 4], gpu_limit=1000
    ),
}
SIZES = (8, 40, 200)

# AWS karpenter-blueprints blueprints/node-overlay: one overlay, every 1-GPU type, no pool scope.
BLUEPRINT_OVERLAY: dict[str, Any] = {
    "apiVersion": "karpenter.sh/v1alpha1",
    "kind": "NodeOverlay",
    "metadata": {"name": "gpu-time-slicing"},
    "spec": {
        "requirements": [
            {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "In", "values": ["1"]}
        ],
        "capacity": {"nvidia.com/gpu": "4"},
    },
}


def simulate(
    harness: Upstream, pool: GpuPool, pods: int, variant: str, env: Mapping[str, str]
) -> SimulationRun:
    inputs = simulation_input(GpuSharingSetup.for_pools([pool]))
    objects = [
        o for o in inputs.karpenter_objects if variant == "ours" or o["kind"] != "NodeOverlay"
    ]
    if variant == "blueprint":
        objects.append(BLUEPRINT_OVERLAY)
    return run_simulation(
        harness,
        label=variant,
        karpenter_objects=objects,
        pod_templates=inputs.pod_templates,
        resource_names=inputs.resource_names,
        pods={pool.name: pods},
        controller_env=env,
    )


def placement_table(
    harness: Upstream, env: Mapping[str, str], sizes: Sequence[int] = SIZES
) -> list[str]:
    lines = [
        "| pool | pods | ours: nodes, $/h (x min) | no overlays | blueprint overlay | minimum |",
        "|---|---:|---|---|---|---|",
    ]
    for label, pool in POOLS.items():
        for pods in sizes:
            runs = {v: simulate(harness, pool, pods, v, env) for v in ("ours", "none", "blueprint")}
            # The cheapest fleet for the same pods, from Karpenter's own figures.
            fleet = runs["ours"].pool(pool.name).cheapest
            assert fleet is not None and fleet.exact
            nodes, cost = fleet.nodes, fleet.price_per_hour
            cells = []
            for variant in ("ours", "none", "blueprint"):
                outcome = runs[variant].pool(pool.name)
                assert outcome.unschedulable_pods == 0, (variant, outcome.unschedulable)
                ratio = outcome.price_per_hour / cost
                cells.append(f"{outcome.nodes}, ${outcome.price_per_hour:.2f} ({ratio:.2f}x)")
            lines.append(
                f"| {label} | {pods} | {' | '.join(cells)} | {nodes}, ${cost:.2f} (1.00x) |"
            )
    return lines


def timing_table(
    harness: Upstream, env: Mapping[str, str], runs: int, sizes: Sequence[int] = (200, 1000)
) -> list[str]:
    pool = POOLS["1-GPU types"]
    lines = [
        "| pending pods | with overlays: s (nodes) | without overlays: s (nodes, pods placed) "
        "| ratio |",
        "|---:|---:|---:|---:|",
    ]
    for pods in sizes:
        times: dict[str, list[float]] = {"ours": [], "none": []}
        outcomes = {}
        for _ in range(runs):
            for variant in ("ours", "none"):  # alternate, so drift hits both alike
                result = simulate(harness, pool, pods, variant, env)
                times[variant].append(result.schedule_seconds)
                outcomes[variant] = result.pool(pool.name)
        ours, none = statistics.median(times["ours"]), statistics.median(times["none"])
        lines.append(
            f"| {pods} | {ours:.2f} ({outcomes['ours'].nodes}) | {none:.2f} "
            f"({outcomes['none'].nodes}, {outcomes['none'].scheduled_pods}) | {ours / none:.2f} |"
        )
    return lines


def scale_table(
    harness: Upstream, env: Mapping[str, str], sizes: Sequence[int] = (1000, 2000, 5000)
) -> list[str]:
    """One round per size and variant with a CPU-bound process beside it (2 cores: one left)."""
    pool = GpuPool(
        "scale", sharing=TimeSlicing(replicas=4), gpu_names=["t4"], gpu_limit=MAX_PODS_PER_POOL
    )
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        lines = [
            "| pending pods | overlays | placed | refused | never tried | deadline | round s "
            "| pods tried per s |",
            "|---:|---|---:|---:|---:|---|---:|---:|",
        ]
        for pods in sizes:
            for variant in ("ours", "none"):
                result = simulate(harness, pool, pods, variant, env)
                outcome = result.pool(pool.name)
                tried = outcome.scheduled_pods + outcome.unschedulable_pods
                lines.append(
                    f"| {pods} | {'with' if variant == 'ours' else 'without'} | "
                    f"{outcome.scheduled_pods} | {outcome.unschedulable_pods} | "
                    f"{outcome.unaccounted_pods} | {'hit' if result.deadline_exceeded else '-'} | "
                    f"{result.schedule_seconds:.1f} | {tried / result.schedule_seconds:.0f} |"
                )
                print(lines[-1], file=sys.stderr, flush=True)  # a line a minute at most
        return lines
    finally:
        busy.kill()
        busy.wait()


SHAPE_SIZES = (5, 14, 40, 200)


def _unsplit(plan: plan_module.NodePoolPlan) -> list[plan_module.NodePoolPlan]:
    return [plan]


def shape_run(
    harness: Upstream,
    env: Mapping[str, str],
    pool: GpuPool,
    pods: int,
    *,
    before: bool,
    realistic: bool,
) -> SimulationRun:
    """One round for ``pods`` pods of ``pool``; ``before``: without the split per GPU count."""
    split = plan_module._per_gpu_count
    if before:
        plan_module._per_gpu_count = _unsplit  # the layout before the split, for comparison
        plan_module.plan_pool.cache_clear()
    try:
        inputs = simulation_input(GpuSharingSetup.for_pools([pool]))
    finally:
        plan_module._per_gpu_count = split
        plan_module.plan_pool.cache_clear()
    template = dict(inputs.pod_templates[pool.name])
    if realistic:
        template = _realistic(template)
    run = run_simulation(
        harness,
        label="before" if before else "after",
        karpenter_objects=inputs.karpenter_objects,
        resource_names=inputs.resource_names,
        pod_groups=[
            PodGroup(pool.name, "simulated", pods, template, label=pool.name, pool=pool.name)
        ],
        controller_env=env,
    )
    if not run.complete or run.pool(pool.name).scheduled_pods != pods:
        raise SystemExit(f"{pods} pods of {pool.name}: not every pod was placed")
    return run


def shapes_table(harness: Upstream, env: Mapping[str, str], sizes: Sequence[int]) -> list[str]:
    lines = [
        "| pool shape | pods | requests | before: nodes, $/h (x cheapest) | after | cheapest |",
        "|---|---:|---|---|---|---|",
    ]
    for label, pool in SHAPES.items():
        for realistic in (False, True):
            for pods in sizes:
                cells = []
                cheapest = None
                for before in (True, False):
                    print(f"shapes: {label}, {pods} pods", file=sys.stderr, flush=True)
                    outcome = shape_run(
                        harness, env, pool, pods, before=before, realistic=realistic
                    ).pool(pool.name)
                    cheapest = outcome.cheapest
                    assert cheapest is not None
                    bound = "" if cheapest.exact else "<= "
                    cells.append(
                        f"{outcome.nodes}, ${outcome.price_per_hour:.2f} "
                        f"({bound}{outcome.cost_ratio:.2f}x)"
                    )
                assert cheapest is not None
                requests = "1 vCPU / 4 GiB" if realistic else "sample"
                lines.append(
                    f"| {label} | {pods} | {requests} | {cells[0]} | {cells[1]} | "
                    f"{cheapest.describe()}, ${cheapest.price_per_hour:.2f} |"
                )
    return lines


def _realistic(template: Mapping[str, Any]) -> dict[str, Any]:
    """The sample pod requesting 1 vCPU and 4 GiB, as a real inference server might."""
    pod = copy.deepcopy(dict(template))
    container = pod["spec"]["containers"][0]
    container["resources"].setdefault("requests", {}).update({"cpu": "1", "memory": "4Gi"})
    return pod


def backends_table(harness: Upstream, runs: int, sizes: Sequence[int]) -> list[str]:
    """Device plugin vs DRA on the same pools and pods, each round timed by Karpenter."""
    lines = [
        "| pool | pods | requests | device plugin: nodes, $/h (x cheapest), schedule s "
        "| DRA: nodes, $/h (x cheapest), schedule s |",
        "|---|---:|---|---|---|",
    ]
    # One Helm render of Karpenter's chart per backend, one set of objects per pool and backend.
    envs = {
        backend: karpenter_controller_env(
            harness,
            cluster_name="benchmark",
            node_overlay_enabled=True,
            dra_enabled=backend is Backend.DRA,
        )
        for backend in Backend
    }
    for label, base in POOLS.items():
        pools = {backend: dataclasses.replace(base, backend=backend) for backend in Backend}
        all_inputs = {
            backend: simulation_input(GpuSharingSetup.for_pools([pool]))
            for backend, pool in pools.items()
        }
        for realistic in (False, True):
            for pods in sizes:
                cells = []
                for backend in Backend:
                    pool, inputs, env = pools[backend], all_inputs[backend], envs[backend]
                    template = dict(inputs.pod_templates[pool.name])
                    if realistic:
                        template = _realistic(template)
                    print(f"backends: {label}, {pods} pods, {backend.value}", file=sys.stderr)
                    times, outcome = [], None
                    for _ in range(runs):
                        result = run_simulation(
                            harness,
                            label=backend.value,
                            karpenter_objects=inputs.karpenter_objects,
                            resource_names=inputs.resource_names,
                            controller_env=env,
                            pod_templates={pool.name: template},
                            pods={pool.name: pods},
                            dra_objects=inputs.dra_objects,
                        )
                        times.append(result.schedule_seconds)
                        outcome = result.pool(pool.name)
                    assert outcome is not None and outcome.scheduled_pods == pods
                    ratio = f"{outcome.cost_ratio:.2f}x" if outcome.cost_ratio else "n/a"
                    cells.append(
                        f"{outcome.nodes}, ${outcome.price_per_hour:.2f} ({ratio}), "
                        f"{statistics.median(times):.2f}"
                    )
                requests = "1 vCPU / 4 GiB" if realistic else "sample"
                lines.append(f"| {label} | {pods} | {requests} | {cells[0]} | {cells[1]} |")
    return lines


def build_times() -> list[str]:
    go = go_command()
    if go is None:
        raise SystemExit("no Go toolchain")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "GOMODCACHE": f"{scratch}/mod",
            "GOCACHE": f"{scratch}/build",
            "CGO_ENABLED": "0",
            "GOFLAGS": "-mod=readonly",
            "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "auto"),
        }
        binary = Path(scratch) / "upstream"
        for label in ("cold (empty caches)", "warm (caches kept)"):
            binary.unlink(missing_ok=True)
            start = time.monotonic()
            subprocess.run(
                [go, "build", "-o", str(binary), "."],
                cwd=GO_MODULE_DIR,
                env=env,
                check=True,
                capture_output=True,
            )
            results.append(f"| {label} | {time.monotonic() - start:.0f} s |")
        shutil.rmtree(f"{scratch}/mod", ignore_errors=True)  # read-only files need no chmod here
    return ["| Go build of the upstream checks | time |", "|---|---:|", *results]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timing rounds (default 5)")
    parser.add_argument("--build", action="store_true", help="also time cold and warm Go builds")
    parser.add_argument(
        "--quick", action="store_true", help="8 pods and 20-pod timings only (the tests' smoke run)"
    )
    parser.add_argument(
        "--scale", action="store_true", help="only the 1,000-5,000-pod table, one CPU kept busy"
    )
    parser.add_argument(
        "--shapes", action="store_true", help="only every pool shape against the cheapest fleet"
    )
    parser.add_argument(
        "--backends", action="store_true", help="only the device plugin against DRA"
    )
    args = parser.parse_args(argv)
    harness = upstream(lambda line: print(line, file=sys.stderr))
    env = karpenter_controller_env(harness, cluster_name="benchmark", node_overlay_enabled=True)
    versions = harness.call("versions")["modules"]
    print(
        f"Karpenter {versions['github.com/aws/karpenter-provider-aws']}; "
        f"prices: {load_catalog().price_note}; {os.cpu_count()} CPUs\n"
    )
    if args.scale:
        print("\n".join(scale_table(harness, env)))
        return
    if args.shapes:
        print("\n".join(shapes_table(harness, env, (5,) if args.quick else SHAPE_SIZES)))
        return
    if args.backends:
        runs = 1 if args.quick else args.runs
        print("\n".join(backends_table(harness, runs, (8,) if args.quick else SIZES)))
        return
    print("\n".join(placement_table(harness, env, (8,) if args.quick else SIZES)))
    print()
    print("\n".join(timing_table(harness, env, args.runs, (20,) if args.quick else (200, 1000))))
    if args.build:
        print()
        print("\n".join(build_times()))


if __name__ == "__main__":
    main()
