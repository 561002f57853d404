"""`eks-gpu-sharing`: render a config file to Kubernetes YAML, check a folder is current, or
simulate what Karpenter will launch for it.

eks-gpu-sharing synth --config gpu-sharing.yaml --out manifests/
eks-gpu-sharing check --config gpu-sharing.yaml --out manifests/   # exit 1 if stale
eks-gpu-sharing simulate --config gpu-sharing.yaml --pods inference=40   # needs Go
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Final

from .advice import file_advice
from .config import GpuSharingConfig, load_config
from .errors import ConfigurationError
from .render import compare, kubectl_apply_command, synth
from .upstream import UpstreamError, UpstreamUnavailable

#: Exit statuses, documented in ``--help``.
EXIT_OK: Final = 0
EXIT_STALE: Final = 1
EXIT_INVALID: Final = 2
EXIT_UPSTREAM: Final = 3

_EPILOG: Final = """examples:
  eks-gpu-sharing synth --config gpu-sharing.yaml --out manifests/
  eks-gpu-sharing check --config gpu-sharing.yaml --out manifests/
  eks-gpu-sharing simulate --config gpu-sharing.yaml --pods inference=40

exit status:
  0  success (check: the folder is up to date)
  1  check: the folder differs from what synth would write
  2  invalid input: the config file, an option or the output folder (the error names which)
  3  simulate: Go or the pinned upstream modules are not available, or they failed
"""


def _version() -> str:
    try:
        return version("eks-gpu-sharing")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eks-gpu-sharing",
        description="Render GPU pools and their sharing (Karpenter NodePools, EC2NodeClasses, "
        "NodeOverlays, device plugin config, sample workload) to plain Kubernetes YAML.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (
        ("synth", "write the manifests into --out (only files synth wrote are replaced)"),
        ("check", "exit 1 if --out differs from what synth would write"),
    ):
        command = commands.add_parser(
            name,
            help=text,
            description=text,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
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
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    """Entry point of the `eks-gpu-sharing` console command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        config = load_config(args.config)
        if args.command == "synth":
            result = synth(config, args.out)
            for path in result.written:
                print(path)
            for line in file_advice(config.pools):
                print(f"eks-gpu-sharing: warning: {line}", file=sys.stderr)
            _report_leftovers(result.leftovers, args.out)
            return EXIT_OK
        if args.command == "simulate":
            return _simulate(config, args.pods, args.format)
        return _check(config, args.config, args.out)
    except ConfigurationError as error:
        print(f"eks-gpu-sharing: error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        # The folder passed every check and then failed (a full disk, a race with another
        # writer): name the file, not a traceback.
        where = f" ({error.filename})" if error.filename else ""
        print(f"eks-gpu-sharing: error: {error.strerror or error}{where}", file=sys.stderr)
        return EXIT_INVALID
    except (UpstreamUnavailable, UpstreamError) as error:
        print(f"eks-gpu-sharing: {error}", file=sys.stderr)
        return EXIT_UPSTREAM
    except KeyboardInterrupt:
        return 130


def _report_leftovers(commands: Sequence[str], outdir: str) -> None:
    if not commands:
        return
    print(
        f"eks-gpu-sharing: note: {len(commands)} object(s) left the manifests; "
        "`kubectl apply -f` keeps them on a cluster that has them. After applying, delete them:",
        *(f"  {command}" for command in commands),
        f"or apply with pruning instead: {kubectl_apply_command(outdir)}",
        sep="\n",
        file=sys.stderr,
    )


def _check(config: GpuSharingConfig, config_path: str, outdir: str) -> int:
    differences = compare(config, outdir)
    if differences:
        print(
            f"eks-gpu-sharing: {outdir} is stale ({differences.describe()}); run "
            f"`eks-gpu-sharing synth --config {config_path} --out {outdir}`",
            file=sys.stderr,
        )
        return EXIT_STALE
    print(f"{outdir} is up to date")
    return EXIT_OK


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
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
