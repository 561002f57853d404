#!/usr/bin/env python3
"""What Karpenter launches for N one-slice pods, four ways, all in one run, against the minimum.

    .venv/bin/python scripts/benchmark_simulation.py            # node/cost table + timings
    .venv/bin/python scripts/benchmark_simulation.py --build    # also cold/warm Go build times
    .venv/bin/python scripts/benchmark_simulation.py --scale    # 1,000-5,000 pods, under load

For N = 8, 40 and 200 pending one-slice pods on a 4-way time-sliced pool of 1-GPU types and on
one that also admits 4-GPU types, Karpenter's own provisioner (the pinned release) decides:

* ours: the objects this library generates (NodeOverlays per pool and GPU count);
* none: the same without NodeOverlays (the setup the public time-slicing guides describe);
* blueprint: one cluster-wide NodeOverlay for 1-GPU types only, as AWS's karpenter-blueprints
  ``node-overlay`` example (``instance-gpu-count In [1]`` -> ``nvidia.com/gpu: 4``);
* minimum: the cheapest fleet of the pool's admitted instance types whose slices hold N pods
  (exact integer optimum by dynamic programming over Karpenter's own capacities and prices).

Each figure is also given as a ratio to the minimum. Then Karpenter's scheduling time for 200 and
1,000 pending pods with and without the overlays (median of --runs rounds, ratio), and with
--build the Go build: cold (empty module and build caches, modules downloaded from the proxy)
and warm (caches kept, binary removed). With --scale, how far one round reaches before
Karpenter's one-minute deadline: 1,000, 2,000 and 5,000 pending pods with and without the
overlays, while a second process keeps one CPU busy, each pod counted as placed, refused or
never tried.
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

from eks_gpu_sharing import GpuPool, TimeSlicing  # noqa: E402
from eks_gpu_sharing.catalog import load_catalog  # noqa: E402
from eks_gpu_sharing.setup import GpuSharingSetup  # noqa: E402
from eks_gpu_sharing.simulation import (  # noqa: E402
    MAX_PODS_PER_POOL,
    SimulationRun,
    karpenter_controller_env,
    run_simulation,
    simulation_input,
)
from eks_gpu_sharing.upstream import GO_MODULE_DIR, Upstream, upstream  # noqa: E402
from eks_gpu_sharing.upstream.harness import go_command  # noqa: E402

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


def cheapest_fleet(capacities: Mapping[str, int], pods: int) -> tuple[int, float]:
    """(nodes, $/h) of the cheapest multiset of types whose slices sum to at least ``pods``."""
    prices = {t.name: t.on_demand_price_per_hour for t in load_catalog().instance_types}
    options = [
        (slices, prices[name])
        for name, slices in capacities.items()
        if slices > 0 and prices.get(name) is not None
    ]
    best: list[tuple[float, int]] = [(0.0, 0)] + [(float("inf"), 0)] * pods
    for need in range(1, pods + 1):
        for slices, price in options:
            cost, nodes = best[max(need - slices, 0)]
            if cost + price < best[need][0] - 1e-9:
                best[need] = (cost + price, nodes + 1)
    cost, nodes = best[pods]
    return nodes, round(cost, 4)


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
            capacities = runs["ours"].capacities[pool.name]
            nodes, cost = cheapest_fleet(capacities, pods)
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
    print("\n".join(placement_table(harness, env, (8,) if args.quick else SIZES)))
    print()
    print("\n".join(timing_table(harness, env, args.runs, (20,) if args.quick else (200, 1000))))
    if args.build:
        print()
        print("\n".join(build_times()))


if __name__ == "__main__":
    main()
