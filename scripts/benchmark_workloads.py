#!/usr/bin/env python3
"""What pod shape does to Karpenter's answer: sample pods against realistic requests.

    .venv/bin/python scripts/benchmark_workloads.py           # 8, 40 and 200 pods
    .venv/bin/python scripts/benchmark_workloads.py --quick   # 8 pods (the tests' smoke run)
    .venv/bin/python scripts/benchmark_workloads.py --scale   # 1,000-5,000 pods, under load

``simulate --pods`` makes one-slice sample pods (250m CPU, 256Mi). Real pods ask for more, and
spread over zones. For N = 8, 40 and 200 one-slice pods on a 4-way time-sliced pool of 1-GPU
types (t4, a10g, l4), Karpenter's own provisioner (the pinned release, with this library's
objects) places N pods of each shape in one Deployment:

* sample: the sample workload's pod, as ``--pods`` makes it;
* 1 vCPU / 4 GiB and 2 vCPU / 8 GiB requests;
* 1 vCPU / 4 GiB with a zone topology spread (``maxSkew: 1``, ``DoNotSchedule``).

Each row gives the nodes and $/hour Karpenter would launch and the ratio to the sample pods',
all in one process on the same catalog. With --scale, how far one round of the costliest shape
to schedule (zone spread) reaches before Karpenter's one-minute deadline: 1,000, 2,000, 4,000
and 5,000 pods while a second process keeps one CPU busy, each pod counted as placed, refused
or never tried.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "constructs"))

from eks_gpu_sharing import GpuPool, TimeSlicing  # noqa: E402
from eks_gpu_sharing.labels import POOL_LABEL  # noqa: E402
from eks_gpu_sharing.setup import GpuSharingSetup  # noqa: E402
from eks_gpu_sharing.simulation import (  # noqa: E402
    PodGroup,
    SimulationRun,
    karpenter_controller_env,
    run_simulation,
    simulation_input,
)
from eks_gpu_sharing.upstream import Upstream, upstream  # noqa: E402

POOL = GpuPool(
    "inference", sharing=TimeSlicing(replicas=4), gpu_names=["t4", "a10g", "l4"], gpu_limit=2000
)
SIZES = (8, 40, 200)
ZONE_SPREAD = {
    "maxSkew": 1,
    "topologyKey": "topology.kubernetes.io/zone",
    "whenUnsatisfiable": "DoNotSchedule",
    "labelSelector": {"matchLabels": {"app": "w"}},
}
#: (shape, cpu, memory, topology spread) of the realistic pods.
SHAPES: tuple[tuple[str, str, str, bool], ...] = (
    ("1 vCPU / 4 GiB", "1", "4Gi", False),
    ("2 vCPU / 8 GiB", "2", "8Gi", False),
    ("1 vCPU / 4 GiB, zone spread", "1", "4Gi", True),
)


def template(cpu: str, memory: str, spread: bool) -> dict[str, Any]:
    """A one-slice pod of the pool with these requests, as a team's Deployment would have it."""
    spec: dict[str, Any] = {
        "nodeSelector": {POOL_LABEL: POOL.name},
        "tolerations": [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            {"key": POOL_LABEL, "operator": "Equal", "value": POOL.name, "effect": "NoSchedule"},
        ],
        "containers": [
            {
                "name": "server",
                "image": "example.com/server:1",
                "resources": {
                    "requests": {"cpu": cpu, "memory": memory},
                    "limits": {"memory": memory, "nvidia.com/gpu": 1},
                },
            }
        ],
    }
    if spread:
        spec["topologySpreadConstraints"] = [ZONE_SPREAD]
    return {"metadata": {"labels": {"app": "w"}}, "spec": spec}


def place(
    harness: Upstream, env: dict[str, str], pods: int, shape: Any, *, every_pod: bool = True
) -> SimulationRun:
    inputs = simulation_input(GpuSharingSetup.for_pools([POOL]))
    common: dict[str, Any] = {
        "label": "ours",
        "karpenter_objects": inputs.karpenter_objects,
        "resource_names": inputs.resource_names,
        "controller_env": env,
    }
    if shape is None:
        run = run_simulation(
            harness, pod_templates=inputs.pod_templates, pods={POOL.name: pods}, **common
        )
    else:
        group = PodGroup("w", "ml", pods, template(*shape[1:]), label="Deployment ml/w")
        run = run_simulation(harness, pod_groups=[group], **common)
    if every_pod and (not run.complete or run.pool(POOL.name).scheduled_pods != pods):
        raise SystemExit(f"{pods} pods of {shape}: not every pod was placed ({run})")
    return run


def scale(harness: Upstream, env: dict[str, str]) -> None:
    """One round per size of the zone-spread shape, a CPU-bound process beside it."""
    shape = SHAPES[-1]
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        print(f"{shape[0]}, one CPU kept busy")
        print("| pending pods | placed | refused | never tried | deadline | round s |")
        print("|---:|---:|---:|---:|---|---:|")
        for pods in (1000, 2000, 4000, 5000):
            run = place(harness, env, pods, shape, every_pod=False)
            outcome = run.workloads[0]
            print(
                f"| {pods} | {outcome.placed_pods} | {outcome.unschedulable_pods} | "
                f"{outcome.unaccounted_pods} | {'hit' if run.deadline_exceeded else '-'} | "
                f"{run.schedule_seconds:.1f} |",
                flush=True,
            )
    finally:
        busy.kill()
        busy.wait()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 pods only")
    parser.add_argument("--scale", action="store_true", help="only 1,000-5,000 pods, under load")
    args = parser.parse_args(argv)
    harness = upstream(lambda line: print(line, file=sys.stderr))
    env = karpenter_controller_env(harness, cluster_name="bench", node_overlay_enabled=True)
    if args.scale:
        scale(harness, env)
        return
    print("| pods | pod shape | nodes | instance types | $/hour | vs sample pods | round s |")
    print("|---:|---|---:|---|---:|---:|---:|")
    for pods in SIZES[:1] if args.quick else SIZES:
        sample_run = place(harness, env, pods, None)
        sample = sample_run.pool(POOL.name)
        for shape in (None, *SHAPES):
            run = sample_run if shape is None else place(harness, env, pods, shape)
            outcome = run.pool(POOL.name)
            types: dict[str, int] = {}
            for claim in outcome.node_claims:
                types[claim.instance_type] = types.get(claim.instance_type, 0) + 1
            launched = ", ".join(f"{n} x {t}" for t, n in sorted(types.items()))
            ratio = outcome.price_per_hour / sample.price_per_hour
            print(
                f"| {pods} | {'sample (250m / 256Mi)' if shape is None else shape[0]} "
                f"| {outcome.nodes} | {launched} | {outcome.price_per_hour:.2f} | {ratio:.2f}x "
                f"| {run.schedule_seconds:.2f} |"
            )


if __name__ == "__main__":
    main()
