"""`eks-gpu-sharing`: render a config file to Kubernetes YAML, check a folder is current, or
simulate what Karpenter will launch for it.

eks-gpu-sharing synth --config gpu-sharing.yaml --out manifests/
eks-gpu-sharing check --config gpu-sharing.yaml --out manifests/   # exit 1 if stale
eks-gpu-sharing simulate --config gpu-sharing.yaml --pods inference=40   # needs Go
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .advice import setup_advice
from .config import GpuSharingConfig, load_config
from .errors import ConfigurationError
from .render import owned_files, render
from .upstream import UpstreamError, UpstreamUnavailable


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eks-gpu-sharing",
        description="Render GPU pools and their sharing (Karpenter NodePools, EC2NodeClasses, "
        "NodeOverlays, device plugin config, sample workload) to plain Kubernetes YAML.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("synth", "write the manifests into --out"),
        ("check", "exit 1 if --out does not match what synth would write"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--config", default="gpu-sharing.yaml", help="setup file (default: gpu-sharing.yaml)"
        )
        command.add_argument(
            "--out",
            # `cdk8s synth` passes its output folder (cdk8s.yaml `output:`) in CDK8S_OUTDIR.
            default=os.environ.get("CDK8S_OUTDIR", "manifests"),
            help="output folder (default: $CDK8S_OUTDIR or manifests)",
        )
    simulate = commands.add_parser(
        "simulate",
        help="show what Karpenter would launch for N pending pods per pool, and its price",
        description="Run Karpenter's own scheduler (the pinned release, built with Go on first "
        "use) on the objects this config generates and N pending one-slice pods per pool, with "
        "and without the NodeOverlays. One scheduling round: nothing is launched.",
    )
    simulate.add_argument(
        "--config", default="gpu-sharing.yaml", help="setup file (default: gpu-sharing.yaml)"
    )
    simulate.add_argument(
        "--pods",
        action="append",
        default=[],
        metavar="POOL=N",
        help="pending one-slice pods for a pool; repeat per pool, e.g. --pods inference=40",
    )
    simulate.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `eks-gpu-sharing` console command."""
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        if args.command == "synth":
            for path in render(config, args.out):
                print(path)
            for line in setup_advice(config.pools):
                print(f"eks-gpu-sharing: warning: {line}", file=sys.stderr)
            return 0
        if args.command == "simulate":
            return _simulate(config, args.pods, args.format)
        return _check(config, args.config, Path(args.out))
    except ConfigurationError as error:
        print(f"eks-gpu-sharing: error: {error}", file=sys.stderr)
        return 2
    except (UpstreamUnavailable, UpstreamError) as error:
        print(f"eks-gpu-sharing: {error}", file=sys.stderr)
        return 3


def _check(config: GpuSharingConfig, config_path: str, outdir: Path) -> int:
    with tempfile.TemporaryDirectory() as fresh:
        expected = {str(p.relative_to(fresh)) for p in render(config, fresh)}
        actual = {str(p.relative_to(outdir)) for p in owned_files(outdir)}
        stale = sorted(expected ^ actual)
        stale += sorted(
            name
            for name in expected & actual
            if not filecmp.cmp(Path(fresh) / name, outdir / name, shallow=False)
        )
    if stale:
        print(
            f"eks-gpu-sharing: {outdir} is stale ({', '.join(stale)}); run "
            f"`eks-gpu-sharing synth --config {config_path} --out {outdir}`",
            file=sys.stderr,
        )
        return 1
    print(f"{outdir} is up to date")
    return 0


def _simulate(config: GpuSharingConfig, pod_args: Sequence[str], output: str) -> int:
    from .simulation import simulate

    pods: dict[str, int] = {}
    for item in pod_args:
        name, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit() or len(count) > 6:
            raise ConfigurationError(
                field="--pods",
                value=item,
                rule="takes POOL=N with N a whole number",
                fix="e.g. --pods inference=40",
            )
        pods[name.strip()] = int(count)
    report = simulate(config, pods, log=lambda line: print(line, file=sys.stderr))
    print(report.to_json() if output == "json" else report.format_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
