"""`eks-gpu-sharing`: render a config file to Kubernetes YAML, or check a folder is current.

eks-gpu-sharing synth --config gpu-sharing.yaml --out manifests/
eks-gpu-sharing check --config gpu-sharing.yaml --out manifests/   # exit 1 if stale
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .config import GpuSharingConfig, load_config
from .errors import ConfigurationError
from .render import owned_files, render


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `eks-gpu-sharing` console command."""
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        if args.command == "synth":
            for path in render(config, args.out):
                print(path)
            return 0
        return _check(config, args.config, Path(args.out))
    except ConfigurationError as error:
        print(f"eks-gpu-sharing: error: {error}", file=sys.stderr)
        return 2


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


if __name__ == "__main__":
    sys.exit(main())
