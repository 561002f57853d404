"""`eks-gpu-sharing`: start a config file, render it to Kubernetes YAML, check a folder is
current, simulate what Karpenter will launch for it, or estimate what sharing saves.

eks-gpu-sharing init                                                # writes gpu-sharing.yaml
eks-gpu-sharing synth --config gpu-sharing.yaml --out manifests/
eks-gpu-sharing check --config gpu-sharing.yaml --out manifests/   # exit 1 if stale
eks-gpu-sharing simulate --config gpu-sharing.yaml --pods inference=16   # Go: Karpenter's code
eks-gpu-sharing simulate --config gpu-sharing.yaml --workloads k8s/ --cluster cluster.yaml
eks-gpu-sharing estimate --workloads workloads.yaml                 # or --prometheus URL
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Final

from .advice import file_advice
from .config import load_config
from .errors import ConfigurationError, printable
from .installed_docs import CONFIGURATION, GUIDE, doc
from .pool_options import Backend
from .render import compare, kubectl_apply_command, synth
from .setup import GpuSharingSetup
from .sharing import MPS_MAX_REPLICAS
from .upstream import UpstreamError, UpstreamUnavailable

#: Exit statuses, documented in ``--help``.
EXIT_OK: Final = 0
EXIT_STALE: Final = 1
#: preflight: something in the cluster breaks the setup, or would be broken by it.
EXIT_FINDINGS: Final = 1
EXIT_INVALID: Final = 2
EXIT_UPSTREAM: Final = 3
EXIT_INCOMPLETE: Final = 4
#: An unexpected error (a bug): sysexits' EX_SOFTWARE, distinct from check's "stale" (1).
EXIT_INTERNAL: Final = 70

_EPILOG: Final = """examples:
  eks-gpu-sharing init
  eks-gpu-sharing synth --config gpu-sharing.yaml --out manifests/
  eks-gpu-sharing check --config gpu-sharing.yaml --out manifests/
  eks-gpu-sharing simulate --config gpu-sharing.yaml --pods inference=16
  eks-gpu-sharing simulate --config gpu-sharing.yaml --workloads k8s/ --cluster cluster.yaml
  eks-gpu-sharing preflight --config gpu-sharing.yaml --cluster cluster.yaml
  eks-gpu-sharing estimate --workloads workloads.yaml --format markdown
  eks-gpu-sharing estimate --prometheus http://localhost:9090 --write-config gpu-sharing.yaml

exit status:
  0  success (check: the folder is up to date)
  1  check: the folder differs from what synth would write; preflight: findings
  2  invalid input: the config file, an option, a file that exists or the output folder
     (the error names which)
  3  simulate: Go or the pinned upstream modules are not available, or they failed
  4  simulate: Karpenter's scheduling deadline ended the round with this library's objects
     before every pod was placed or refused (the output names the pools)
  70 an unexpected error (a bug; the traceback is printed)

"""


def _epilog() -> str:
    """The examples and exit statuses, and where this installation's guide is."""
    return (
        _EPILOG + f"\nEvery key of gpu-sharing.yaml: {doc(CONFIGURATION)}\n"
        f"The guide: {doc(GUIDE)}\n"
    )


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
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (
        ("synth", "write the manifests into --out (only files synth wrote are replaced)"),
        ("check", "exit 1 if --out differs from what synth would write"),
    ):
        command = _command(commands, name, text)
        command.add_argument(
            "--config", default="gpu-sharing.yaml", help="setup file (default: gpu-sharing.yaml)"
        )
        command.add_argument(
            "--out",
            # `cdk8s synth` passes its output folder (cdk8s.yaml `output:`) in CDK8S_OUTDIR.
            default=os.environ.get("CDK8S_OUTDIR", "manifests"),
            help="output folder (default: $CDK8S_OUTDIR or manifests)",
        )
    simulate = _command(
        commands,
        "simulate",
        "show what Karpenter would launch for your workloads (or N pods per pool), and its price",
        "Run Karpenter's own scheduler (the pinned release, built with Go on first "
        "use) on the objects this config generates and pending pods: every replica of the "
        "workloads in --workloads with their real requests and constraints, and N one-slice "
        "pods per pool with --pods; with --cluster, in your cluster as it runs. With and "
        "without the NodeOverlays. One scheduling round: nothing is launched.",
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
    simulate.add_argument(
        "--workloads",
        nargs="+",
        metavar="PATH",
        help="Kubernetes manifests (Deployments, StatefulSets, Jobs, CronJobs, ReplicaSets, "
        "Pods, Lists): files, folders, or - for standard input",
    )
    simulate.add_argument(
        "--cluster",
        nargs="+",
        metavar="PATH",
        help="a dump of your cluster: kubectl get nodes,pods,daemonsets,deployments,namespaces,"
        "nodepools,nodeclaims,nodeoverlays,ec2nodeclasses -A -o yaml > cluster.yaml",
    )
    simulate.add_argument(
        "--region",
        metavar="REGION",
        help="price with Karpenter's static on-demand table for this region (default: us-east-1)",
    )
    simulate.add_argument(
        "--backend",
        choices=[b.value for b in Backend],
        help="run every pool that can use it with this sharing backend (the NVIDIA device plugin, "
        "or the NVIDIA DRA driver's consumable shares), as if Karpenter had its gate on: compare "
        "two runs with the same --pods",
    )
    simulate.add_argument("--format", choices=("table", "json"), default="table")
    simulate.add_argument(
        "--verbose", action="store_true", help="print every line Karpenter logged, not only errors"
    )
    preflight = _command(
        commands,
        "preflight",
        "check a cluster dump for what would break the setup, or be broken by it",
        "Read a dump of the cluster (kubectl get nodes,pods,daemonsets,deployments,namespaces,"
        "nodepools,nodeclaims,nodeoverlays,ec2nodeclasses -A -o yaml) and report other NVIDIA "
        "device plugins that would run on the pools' nodes, NodeOverlays that override or "
        "conflict with the library's, GPU workloads that could land on shared nodes, a "
        "Karpenter that does not fit, and namespaces and names the manifests would take over. "
        "Offline: it never talks to the cluster.",
    )
    preflight.add_argument(
        "--config", default="gpu-sharing.yaml", help="setup file (default: gpu-sharing.yaml)"
    )
    preflight.add_argument(
        "--cluster", nargs="+", required=True, metavar="PATH", help="the cluster dump"
    )
    preflight.add_argument("--format", choices=("text", "json"), default="text")
    init = _command(
        commands,
        "init",
        "write a commented starter gpu-sharing.yaml (never overwrites)",
        "Write a commented starter gpu-sharing.yaml: two pools, time-slicing on "
        "AL2023 and on Bottlerocket. Refuses to overwrite an existing file.",
    )
    init.add_argument("--config", default="gpu-sharing.yaml", help="file to write")
    _estimate_parser(commands)
    return parser


_Commands = argparse._SubParsersAction  # argparse names no public type for it


def _command(
    commands: _Commands[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A subcommand whose help shows the examples and exit statuses (``_EPILOG``)."""
    return commands.add_parser(
        name,
        help=summary,
        description=description or summary,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _estimate_parser(commands: _Commands[argparse.ArgumentParser]) -> None:
    from .estimate import FORMATS, MAX_SHARE

    estimate = _command(
        commands,
        "estimate",
        "what sharing would save on your workloads, and at what risk",
        "Recommend whole GPUs, time-slicing or MPS per workload, the pools that "
        "implies, and GPU nodes and $/month today vs shared. Workloads are declared in a YAML "
        "file (--workloads) or measured from DCGM exporter metrics in Prometheus "
        "(--prometheus). Node counts come from Karpenter's scheduler when Go is available, "
        "else from arithmetic (the report says which).",
    )
    source = estimate.add_mutually_exclusive_group(required=True)
    source.add_argument("--workloads", metavar="FILE", help="declared workloads (YAML)")
    source.add_argument("--prometheus", metavar="URL", help="Prometheus with DCGM metrics")
    estimate.add_argument("--window", default="7d", help="measured: look-back (default: 7d)")
    estimate.add_argument(
        "--at", metavar="TIME", help="measured: end of the window, RFC 3339 or Unix seconds"
    )
    estimate.add_argument(
        "--latency-sensitive",
        action="append",
        default=[],
        metavar="WORKLOAD",
        help="measured: a workload a request waits on (repeat); it is never time-sliced",
    )
    estimate.add_argument("--spot", action="store_true", help="let the pools use spot first")
    estimate.add_argument(
        "--max-share",
        type=int,
        default=MAX_SHARE,
        metavar="N",
        help=f"most pods per GPU (default: {MAX_SHARE}; one GPU fault stops them all)",
    )
    estimate.add_argument(
        "--arithmetic", action="store_true", help="count nodes by arithmetic, not Karpenter"
    )
    estimate.add_argument(
        "--region",
        metavar="REGION",
        help="price with Karpenter's static on-demand table for this region (needs Karpenter's "
        "scheduler, not --arithmetic; default: us-east-1)",
    )
    estimate.add_argument(
        "--discount",
        default="0",
        metavar="PERCENT",
        help="what your Savings Plans or Reserved Instances take off on-demand prices, e.g. 28 "
        "(default: 0); applied to today and shared alike",
    )
    estimate.add_argument("--format", choices=FORMATS, default="text")
    estimate.add_argument(
        "--write-config", metavar="FILE", help="write the pools' gpu-sharing.yaml"
    )
    estimate.add_argument("--cluster-name", default="my-cluster", help="for --write-config")
    estimate.add_argument("--chart", metavar="FILE", help="write an SVG bar chart of $/month")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `eks-gpu-sharing` console command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        if args.command == "init":
            return _init(args.config)
        if args.command == "estimate":
            return _estimate(args)
        config = load_config(args.config)
        if args.command == "synth":
            result = synth(config, args.out)
            for path in result.written:
                print(path)
            for line in [*result.notices, *file_advice(config.pools)]:
                print(f"eks-gpu-sharing: warning: {line}", file=sys.stderr)
            _report_leftovers(result.leftovers, args.out)
            return EXIT_OK
        if args.command == "preflight":
            return _preflight(config, args.cluster, args.format)
        if args.command == "simulate":
            return _simulate(
                config,
                args.pods,
                args.format,
                workload_paths=args.workloads,
                cluster_paths=args.cluster,
                verbose=args.verbose,
                region=args.region,
                backend=args.backend,
            )
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
        print(f"eks-gpu-sharing: {printable(str(error))}", file=sys.stderr)
        return EXIT_UPSTREAM
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        for line in traceback.format_exc().splitlines():
            print(printable(line), file=sys.stderr)
        print(
            f"eks-gpu-sharing: internal error: {type(error).__name__}: "
            f"{printable(str(error))[:500]}; this is a bug, please report it with the "
            "traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


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


def _check(config: GpuSharingSetup, config_path: str, outdir: str) -> int:
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


def _simulate(
    config: GpuSharingSetup,
    pod_args: Sequence[str],
    output: str,
    *,
    workload_paths: Sequence[str] | None = None,
    cluster_paths: Sequence[str] | None = None,
    verbose: bool = False,
    region: str | None = None,
    backend: str | None = None,
) -> int:
    from .backend_switch import with_backend
    from .cluster_dump import read_cluster_dump
    from .simulation import check_region, simulate

    notes: list[str] = []
    if backend is not None:
        if workload_paths:
            raise ConfigurationError(
                field="--backend",
                value=backend,
                rule="your manifests ask for GPUs one way (an extended resource, or a "
                "ResourceClaim), and Karpenter treats a pod that requests nvidia.com/gpu as no "
                "DRA pod: switching the pools alone would not compare the backends",
                fix="compare with --pods, or simulate manifests written for each backend",
            )
        config, notes = with_backend(config, Backend(backend))

    if region is not None:
        check_region(region)
    from .workload_manifests import read_workload_manifests

    if workload_paths and cluster_paths and "-" in workload_paths and "-" in cluster_paths:
        raise ConfigurationError(
            field="--cluster",
            value="-",
            rule="standard input can be read once, and --workloads reads it",
            fix="write the cluster dump to a file and pass its path",
        )
    # Everything is read and checked before Go starts (minutes on first use).
    workloads = read_workload_manifests(workload_paths) if workload_paths else None
    cluster = read_cluster_dump(cluster_paths) if cluster_paths else None

    pods: dict[str, int] = {}
    for item in pod_args:
        name, sep, count = item.partition("=")
        if not sep or not re.fullmatch(r"[0-9]{1,6}", count.strip()):
            raise ConfigurationError(
                field="--pods",
                value=item,
                rule="takes POOL=N with N a whole number",
                fix="e.g. --pods inference=40",
            )
        pods[name.strip()] = int(count)
    report = simulate(
        config,
        pods,
        workloads=workloads,
        cluster=cluster,
        log=lambda line: print(line, file=sys.stderr),
        region=region,
    )
    for note in notes:
        print(f"eks-gpu-sharing: --backend: {note}", file=sys.stderr)
    print(report.to_json() if output == "json" else report.format_table(verbose=verbose))
    return EXIT_OK if report.complete else EXIT_INCOMPLETE


def _preflight(config: GpuSharingSetup, cluster_paths: Sequence[str], output: str) -> int:
    from .cluster_dump import read_cluster_dump
    from .preflight import preflight

    report = preflight(config, read_cluster_dump(cluster_paths))
    print(report.to_json() if output == "json" else report.format_text())
    return EXIT_OK if report.clean else EXIT_FINDINGS


def _init(path: str) -> int:
    from importlib.resources import files

    starter = files("eks_gpu_sharing").joinpath("starter.yaml").read_text()
    _write_new(path, starter, option="--config")
    print(f"wrote {path}: edit it, then `eks-gpu-sharing synth --config {path}`")
    print(f"every key: {doc(CONFIGURATION)}")
    return EXIT_OK


def _estimate(args: argparse.Namespace) -> int:
    from .estimate import (
        chart_svg,
        config_yaml,
        discount_fraction,
        estimate,
        format_json,
        format_markdown,
        format_text,
        measure,
        read_workloads,
    )

    discount = discount_fraction(args.discount)
    if not 1 <= args.max_share <= MPS_MAX_REPLICAS:
        raise ConfigurationError(
            field="--max-share",
            value=args.max_share,
            rule=f"1..{MPS_MAX_REPLICAS} pods per GPU",
            fix="e.g. 4",
        )
    if args.workloads is not None:
        workloads = read_workloads(args.workloads)
    else:
        measured = measure(
            args.prometheus,
            window=args.window,
            at=_time(args.at),
            latency_sensitive=args.latency_sensitive,
        )
        workloads = measured.workloads
        print(f"eks-gpu-sharing: pods grouped into workloads {measured.grouping}", file=sys.stderr)
        if measured.mig:
            on_mig = ", ".join(f"{n} on {profile}" for profile, n in measured.mig.items())
            print(
                f"eks-gpu-sharing: warning: left out pods on MIG slices ({printable(on_mig)}): "
                "they are partitioned already",
                file=sys.stderr,
            )
        if measured.skipped:
            skipped = ", ".join(f"{n} on {model}" for model, n in measured.skipped.items())
            print(
                f"eks-gpu-sharing: warning: left out pods of GPU models the instance catalog does "
                f"not have or cannot price ({printable(skipped)}); estimate them from a "
                "--workloads file",
                file=sys.stderr,
            )
    result = estimate(
        workloads,
        spot=args.spot,
        max_share=args.max_share,
        discount=discount,
        region=args.region,
        use_simulator=not args.arithmetic,
        log=lambda line: print(line, file=sys.stderr),
    )
    # Check every output first: nothing is written when one of them cannot be.
    outputs: dict[str, tuple[str, str]] = {}
    for option, given in (("--write-config", args.write_config), ("--chart", args.chart)):
        if given is not None and not given.strip():
            raise ConfigurationError(
                field=option, value=given, rule="is empty", fix="pass a file name or leave it out"
            )
    if args.write_config and args.chart and _same_file(args.write_config, args.chart):
        raise ConfigurationError(
            field="--chart",
            value=args.chart,
            rule="is the same file as --write-config",
            fix="give the chart its own name, e.g. estimate.svg",
        )
    if args.write_config:
        outputs[args.write_config] = (
            config_yaml(result, cluster_name=args.cluster_name),
            "--write-config",
        )
    if args.chart:
        outputs[args.chart] = (chart_svg(result), "--chart")
    for path, (_, option) in outputs.items():
        _check_new(path, option)
    for path, (text, option) in outputs.items():
        _write_new(path, text, option=option)
    formats = {"text": format_text, "markdown": format_markdown, "json": format_json}
    print(formats[args.format](result), end="" if args.format != "text" else "\n")
    return EXIT_OK


def _time(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ConfigurationError(
            field="--at",
            value=value,
            rule="a time: RFC 3339 or Unix seconds",
            fix="e.g. 2026-11-30T12:00:00Z",
        ) from None


def _same_file(first: str, second: str) -> bool:
    return Path(first).resolve() == Path(second).resolve()


def _check_new(path: str, option: str) -> None:
    target = Path(path)
    if path.endswith(("/", os.sep)) or target.is_dir():
        raise ConfigurationError(
            field=option,
            value=path,
            rule="names a folder; a file is written",
            fix="pass a file name, e.g. gpu-sharing.yaml",
        )
    if target.exists() or target.is_symlink():
        raise ConfigurationError(
            field=option, value=path, rule="the file exists", fix="remove it or pass another path"
        )
    if not target.parent.is_dir():
        raise ConfigurationError(
            field=option, value=path, rule="its folder does not exist", fix="create it first"
        )


def _write_new(path: str, text: str, *, option: str) -> None:
    """Write ``text`` to a new file ``path`` whole or not at all; never replace a file."""
    _check_new(path, option)
    target = Path(path)
    handle, staged = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(staged, 0o644)
        try:
            os.link(staged, target)  # fails if the file appeared meanwhile: never replaced
        except FileExistsError:
            raise ConfigurationError(
                field=option,
                value=path,
                rule="the file exists",
                fix="remove it or pass another path",
            ) from None
    finally:
        os.unlink(staged)


if __name__ == "__main__":
    sys.exit(main())
