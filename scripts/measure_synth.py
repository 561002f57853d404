#!/usr/bin/env python3
"""Measure how much slower the reference app synthesizes than a bare ``eks.Cluster``.

Two modes, both timed in the same session, alternating between the two apps:

``--mode process`` (default): what a user waits for on ``cdk synth``. Each run is a fresh
``python`` process that imports aws-cdk-lib (starting jsii/Node.js), builds one app and
synthesizes it, exactly as ``cdk synth`` runs ``python3 app.py``.

``--mode warm``: the construct code's own cost. In ONE Python process (the jsii/Node.js
runtime starts once, on the first ``aws_cdk`` import,
before any timing) this builds and synthesizes, each into a fresh temporary ``outdir``:

* baseline: one Stack holding only ``eks.Cluster(version, kubectl_layer, default_capacity=0)``;
* reference: the app returned by ``build_app(outdir)`` of ``app.py`` (or ``--app-module``).

Both are first run ``--warmups`` times untimed (Node loads the aws-cdk-lib modules it needs
lazily and its JIT warms up: the first builds in a process are several times slower), then
``--runs`` times each, alternating; the medians and their ratio are printed. The script exits 1
when the ratio is above ``--max-ratio``.

    python scripts/measure_synth.py                         # app.py in the repository root
    python scripts/measure_synth.py --app-module my_app.py  # any file or module with build_app
    python scripts/measure_synth.py --app-module mypkg.apps:make_app --max-ratio 2
"""

from __future__ import annotations

import argparse
import gc
import importlib
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "constructs") not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "constructs"))

# Imported after the path set-up: starting jsii here keeps its start-up out of every timing.
import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_eks as eks  # noqa: E402

from eks_gpu_sharing.cdk.kubectl import kubectl_layer, kubernetes_version  # noqa: E402

AppFactory = Callable[[str], cdk.App]


def build_baseline_app(outdir: str) -> cdk.App:
    """The smallest app with an EKS cluster: what any ``eks.Cluster`` user pays for."""
    app = cdk.App(outdir=outdir)
    stack = cdk.Stack(app, "Baseline")
    eks.Cluster(
        stack,
        "Cluster",
        version=kubernetes_version(),
        kubectl_layer=kubectl_layer(stack),
        default_capacity=0,
    )
    return app


def load_app_factory(spec: str) -> AppFactory:
    """Load ``build_app`` (or ``:function``) from a ``.py`` file or an importable module."""
    target, _, function = spec.partition(":")
    function = function or "build_app"
    path = Path(target)
    if not path.is_absolute():
        path = (Path.cwd() / path) if (Path.cwd() / path).exists() else ROOT / path
    if target.endswith(".py") or path.is_file():
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        namespace = runpy.run_path(str(path), run_name="measured_app")
    else:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        namespace = vars(importlib.import_module(target))
    factory = namespace.get(function)
    if not callable(factory):
        raise SystemExit(f"{spec}: no callable {function}(outdir) -> aws_cdk.App")
    return factory


def _child(which: str, app_module: str) -> None:
    """One build + synth in this (fresh) process; used by ``--mode process``."""
    factory = build_baseline_app if which == "baseline" else load_app_factory(app_module)
    with tempfile.TemporaryDirectory(prefix="measure-synth-") as outdir:
        factory(outdir).synth()


def _process_seconds(which: str, app_module: str) -> float:
    """Wall seconds of a fresh interpreter that builds and synthesizes one app."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--child", which, "--app-module", app_module],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def time_processes(app_module: str, *, runs: int, warmups: int) -> dict[str, list[float]]:
    """Like ``time_synths`` but every run is its own process (start-up included)."""
    for _ in range(warmups):  # fills the OS file cache for both
        for which in ("baseline", "reference"):
            _process_seconds(which, app_module)
    timings: dict[str, list[float]] = {"baseline": [], "reference": []}
    for _ in range(runs):
        for which in timings:
            timings[which].append(_process_seconds(which, app_module))
    return timings


def _synth_seconds(factory: AppFactory) -> float:
    """Seconds for one build + ``synth()`` of ``factory`` into a fresh temporary outdir."""
    with tempfile.TemporaryDirectory(prefix="measure-synth-") as outdir:
        # Release the previous apps (and, through jsii, their Node.js objects) outside the timing.
        gc.collect()
        start = time.perf_counter()
        factory(outdir).synth()
        return time.perf_counter() - start


def time_synths(
    factories: dict[str, AppFactory], *, runs: int, warmups: int
) -> dict[str, list[float]]:
    """Time each factory ``runs`` times after ``warmups`` untimed runs of every one of them.

    All warm-ups come first and the timed runs alternate between the apps, so Node.js JIT
    warming and drift during the measurement weigh on both alike (measured: the first builds in
    a process are 3-5x slower than later ones, whichever app goes first).
    """
    for _ in range(warmups):
        for factory in factories.values():
            _synth_seconds(factory)
    timings: dict[str, list[float]] = {name: [] for name in factories}
    for _ in range(runs):
        for name, factory in factories.items():
            timings[name].append(_synth_seconds(factory))
    return timings


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure both apps, print the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--app-module",
        default="app.py",
        help="file or module that defines build_app(outdir) (MODULE:FUNCTION for another name);"
        " default: app.py in the repository root",
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per app (default: 3)")
    parser.add_argument(
        "--warmups", type=int, default=2, help="untimed runs per app first (default: 2)"
    )
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=1.5,
        help="fail when reference median / baseline median exceeds this (default: 1.5)",
    )
    parser.add_argument(
        "--mode",
        choices=("process", "warm"),
        default="process",
        help="process: fresh interpreter per run, as `cdk synth` (default); warm: one process",
    )
    parser.add_argument("--child", choices=("baseline", "reference"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.app_module)
        return 0
    if args.runs < 1 or args.warmups < 0:
        parser.error("--runs must be >= 1 and --warmups >= 0")

    if args.mode == "process":
        timings = time_processes(args.app_module, runs=args.runs, warmups=min(args.warmups, 1))
    else:
        timings = time_synths(
            {"baseline": build_baseline_app, "reference": load_app_factory(args.app_module)},
            runs=args.runs,
            warmups=args.warmups,
        )
    baseline_times, reference_times = timings["baseline"], timings["reference"]
    baseline = statistics.median(baseline_times)
    measured = statistics.median(reference_times)
    ratio = measured / baseline

    def show(times: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in times)

    if args.mode == "process":
        print("mode process: each run is a fresh `python` that imports aws-cdk-lib, builds and")
        print(f"synthesizes one app, as `cdk synth` does; {args.runs} alternating runs (seconds).")
    else:
        print("mode warm: one process; jsii/Node.js start-up paid before timing; each app had")
        print(f"{args.warmups} untimed warm-up run(s), then {args.runs} timed, alternating runs")
        print("of build + synth each (seconds).")
    print(f"baseline  (eks.Cluster only): median {baseline:.2f} s  [{show(baseline_times)}]")
    print(f"reference ({args.app_module}): median {measured:.2f} s  [{show(reference_times)}]")
    print(f"ratio: {ratio:.2f} (max {args.max_ratio:.2f}); difference {measured - baseline:+.2f} s")
    if ratio > args.max_ratio:
        print(f"FAIL: the reference app synthesizes {ratio:.2f}x slower than the baseline")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
