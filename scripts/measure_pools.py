"""Measure how synth time and manifest size grow with the number of GPU pools.

Builds the full reference stack (GpuSharingCluster) with 1, 5 and 20 time-sliced pools in ONE
process (after two warm-up builds of each, so jsii's start-up is not counted), alternating the
sizes run by run, takes the median of ``--runs`` builds each, and reports the largest Kubernetes
manifest payload against the 262,144-byte Lambda event limit.

    .venv/bin/python scripts/measure_pools.py [--runs 3] [--counts 1 5 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aws_cdk as cdk

from eks_gpu_sharing import GpuPool, GpuSharingCluster, TimeSlicing

LAMBDA_EVENT_LIMIT = 262_144
MANIFEST_TYPE = "Custom::AWSCDK-EKS-KubernetesResource"


def pools(count: int) -> list[GpuPool]:
    """``count`` distinct pools with varied sharing so the ConfigMap grows too."""
    names = ["t4", "a10g", "l4", "l40s"]
    return [
        GpuPool(
            f"pool-{i:02d}",
            gpu_names=[names[i % len(names)]],
            gpu_counts=[1, 4, 8],
            sharing=TimeSlicing(replicas=2 + i % 7),
            gpu_limit=16,
        )
        for i in range(count)
    ]


def build_and_synth(count: int, outdir: str) -> dict:
    app = cdk.App(outdir=outdir)
    stack = cdk.Stack(app, "Measure")
    GpuSharingCluster(stack, "GpuSlicing", pools=pools(count))
    assembly = app.synth()
    return json.loads(Path(assembly.directory, "Measure.template.json").read_text())


def largest_manifest(template: dict) -> int:
    sizes = [
        len(json.dumps(resource["Properties"]["Manifest"], separators=(",", ":")))
        for resource in template["Resources"].values()
        if resource["Type"] == MANIFEST_TYPE
    ]
    return max(sizes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 5, 20])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up: jsii/Node start-up, module loading and JIT (the first builds in a process are
        # several times slower), for every size; then the sizes alternate run by run.
        for warmup in range(2):
            for count in args.counts:
                build_and_synth(count, f"{tmp}/warmup-{warmup}-{count}")
        times: dict[int, list[float]] = {count: [] for count in args.counts}
        templates: dict[int, dict] = {}
        for run in range(args.runs):
            for count in args.counts:
                start = time.perf_counter()
                templates[count] = build_and_synth(count, f"{tmp}/{count}-{run}")
                times[count].append(time.perf_counter() - start)
        results = {
            count: (
                statistics.median(times[count]),
                largest_manifest(templates[count]),
                len(json.dumps(templates[count], separators=(",", ":"))),
            )
            for count in args.counts
        }
    base = results[args.counts[0]][0]
    header = ("pools", "synth s", "x first", "largest manifest B", "template B")
    print("{:>5} {:>8} {:>8} {:>19} {:>11}".format(*header))
    for count, (seconds, size, template_bytes) in results.items():
        row = (count, f"{seconds:.2f}", f"{seconds / base:.2f}", f"{size:,}", f"{template_bytes:,}")
        print("{:>5} {:>8} {:>8} {:>19} {:>11}".format(*row))
    worst = max(size for _, size, _ in results.values())
    print(
        f"largest manifest {worst:,} B = {worst / LAMBDA_EVENT_LIMIT:.1%} of the "
        f"{LAMBDA_EVENT_LIMIT:,} B Lambda event limit (synth s: median of --runs, warm process)"
    )
    return 0 if worst < LAMBDA_EVENT_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
