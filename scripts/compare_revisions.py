#!/usr/bin/env python3
"""Compare this checkout with an earlier revision: synth time, output identity, code size.

    .venv/bin/python scripts/compare_revisions.py --base 89ab41d --runs 5

Checks out ``--base`` into a temporary git worktree and, in the same session:

* synthesizes the reference app (``app.py``'s ``build_app``) of both, alternating, each run a
  fresh ``python`` process as ``cdk synth`` starts one, and prints the medians and their ratio
  (skipped with ``--outputs-only``);
* compares byte for byte what every example produces (metadata files, which hold stack traces,
  excepted): the reference app's and ``examples/existing_cluster/``'s templates, the
  ``eks-gpu-sharing synth`` output of ``gpu-sharing.yaml``, ``examples/sharing-modes.yaml`` and
  the ``init`` starter, and ``estimate --arithmetic --write-config`` of
  ``examples/workloads.yaml``;
* times ``import eks_gpu_sharing`` and ``import eks_gpu_sharing.sharing`` (``-X importtime``,
  fresh processes, alternating, medians) and says whether each loads jsii (which starts Node);
* counts non-blank lines of the package (generated code excepted) and of the tests.

    .venv/bin/python scripts/compare_revisions.py --base main --outputs-only

Both revisions run with this checkout's virtualenv (put first on ``PYTHONPATH``, each
revision's own ``constructs/`` is what gets imported).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SYNTH = "import sys, app; app.build_app(outdir=sys.argv[1]).synth()"


def _env(checkout: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(checkout / "constructs"), str(checkout)])
    env["PATH"] = os.pathsep.join(
        [str(ROOT / ".venv/bin"), str(ROOT / "node_modules/.bin"), env.get("PATH", "")]
    )
    return env


def synth(checkout: Path, outdir: Path) -> float:
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", _SYNTH, str(outdir)],
        cwd=checkout,
        env=_env(checkout),
        check=True,
        capture_output=True,
    )
    return time.monotonic() - start


#: The plain-YAML examples: output subfolder -> config file (relative to the checkout).
YAML_EXAMPLES = {
    "reference": "gpu-sharing.yaml",
    "sharing-modes": "examples/sharing-modes.yaml",
    "starter": "constructs/eks_gpu_sharing/starter.yaml",
}


def _cli(checkout: Path, *arguments: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "eks_gpu_sharing.cli", *arguments],
        cwd=checkout,
        env=_env(checkout),
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def render(checkout: Path, outdir: Path) -> None:
    """Every example's output that is not the reference app's templates, under ``outdir``."""
    for name, config in YAML_EXAMPLES.items():
        _cli(checkout, "synth", "--config", config, "--out", str(outdir / name))
    (outdir / "estimate").mkdir()
    report = _cli(
        checkout,
        "estimate",
        "--workloads",
        "examples/workloads.yaml",
        "--arithmetic",
        "--format",
        "json",
        "--write-config",
        str(outdir / "estimate" / "gpu-sharing.yaml"),
    )
    (outdir / "estimate" / "report.json").write_text(report)
    env = _env(checkout)
    env["CDK_OUTDIR"] = str(outdir / "existing-cluster")
    subprocess.run(
        [sys.executable, "app.py"],
        cwd=checkout / "examples" / "existing_cluster",
        env=env,
        check=True,
        capture_output=True,
    )


#: Modules whose import cost the comparison reports.
IMPORTED = ("eks_gpu_sharing", "eks_gpu_sharing.sharing")
_LOADS_JSII = "import sys, {module}; print('jsii' in sys.modules)"


def import_time(checkout: Path, module: str) -> tuple[int, bool]:
    """Microseconds ``import module`` takes in a fresh process, and whether it loads jsii."""
    env = _env(checkout)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode, as a user's second run has
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _LOADS_JSII.format(module=module)],
        cwd=checkout,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    line = [x for x in result.stderr.splitlines() if x.rstrip().endswith(f"| {module}")][-1]
    return int(line.split("|")[1]), result.stdout.strip().endswith("True")


def differing(left: Path, right: Path, pattern: str) -> list[str]:
    names = {p.relative_to(left) for p in left.rglob(pattern) if p.is_file()}
    names |= {p.relative_to(right) for p in right.rglob(pattern) if p.is_file()}
    return sorted(
        str(n)
        for n in names
        if not (left / n).is_file()
        or not (right / n).is_file()
        or not filecmp.cmp(left / n, right / n, shallow=False)
    )


def lines(checkout: Path, folder: str, exclude: str | None = None) -> int:
    total = 0
    for path in (checkout / folder).rglob("*.py"):
        if exclude and exclude in path.as_posix():
            continue
        total += sum(1 for line in path.read_text().splitlines() if line.strip())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare with")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--outputs-only", action="store_true", help="compare outputs only, no synth timing"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base), args.base],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            times: dict[str, list[float]] = {"base": [], "head": []}
            runs = 1 if args.outputs_only else args.runs + 1
            for run in range(runs):  # the first round warms disk caches, untimed
                for label, checkout in (("base", base), ("head", ROOT)):
                    elapsed = synth(checkout, Path(scratch) / f"{label}-{run}")
                    if run:
                        times[label].append(elapsed)
            if not args.outputs_only:
                base_s, head_s = statistics.median(times["base"]), statistics.median(times["head"])
                print(
                    f"reference app synth, median of {args.runs} fresh processes: base "
                    f"{base_s:.2f} s, head {head_s:.2f} s, ratio {head_s / base_s:.2f}"
                )
            templates = differing(
                Path(scratch) / "base-0", Path(scratch) / "head-0", "*.template.json"
            )
            print(f"reference app templates differing: {templates or 'none'}")
            render(base, Path(scratch) / "base-out")
            render(ROOT, Path(scratch) / "head-out")
            out_diff = differing(
                Path(scratch) / "base-out", Path(scratch) / "head-out", "*.yaml"
            ) + differing(Path(scratch) / "base-out", Path(scratch) / "head-out", "*.json")
            out_diff = [
                n
                for n in out_diff
                if not n.endswith(("manifest.json", "tree.json", "metadata.json"))
            ]
            print(f"example outputs differing (YAML, templates): {out_diff or 'none'}")
            for module in IMPORTED:
                samples: dict[str, list[int]] = {"base": [], "head": []}
                jsii: dict[str, bool] = {}
                for run in range(args.runs + 1):  # the first writes the bytecode, untimed
                    for label, checkout in (("base", base), ("head", ROOT)):
                        micros, jsii[label] = import_time(checkout, module)
                        if run:
                            samples[label].append(micros)
                medians = {label: statistics.median(v) / 1e6 for label, v in samples.items()}
                print(
                    f"import {module}, median of {args.runs} fresh processes: base "
                    f"{medians['base']:.3f} s (jsii {'loaded' if jsii['base'] else 'not loaded'}),"
                    f" head {medians['head']:.3f} s (jsii "
                    f"{'loaded' if jsii['head'] else 'not loaded'}), ratio "
                    f"{medians['head'] / medians['base']:.2f}"
                )
            for label, checkout in (("base", base), ("head", ROOT)):
                print(
                    f"{label}: package {lines(checkout, 'constructs', 'k8s/imports')} lines "
                    f"(generated excepted), tests {lines(checkout, 'tests')} lines"
                )
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base)],
                cwd=ROOT,
                check=False,
                capture_output=True,
            )


if __name__ == "__main__":
    main()
