#!/usr/bin/env python3
"""Compare this checkout with an earlier revision: synth time, output identity, code size.

    .venv/bin/python scripts/compare_revisions.py --base 89ab41d --runs 5

Checks out ``--base`` into a temporary git worktree and, in the same session:

* synthesizes the reference app (``app.py``'s ``build_app``) of both, alternating, each run a
  fresh ``python`` process as ``cdk synth`` starts one, and prints the medians and their ratio;
* compares the synthesized templates and the ``eks-gpu-sharing synth`` output of
  ``gpu-sharing.yaml`` byte for byte (metadata files, which hold stack traces, excepted);
* counts non-blank lines of the package (generated code excepted) and of the tests.

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


def render(checkout: Path, outdir: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "eks_gpu_sharing.cli",
            "synth",
            "--config",
            "gpu-sharing.yaml",
            "--out",
            str(outdir),
        ],
        cwd=checkout,
        env=_env(checkout),
        check=True,
        capture_output=True,
    )


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
            for run in range(args.runs + 1):  # the first round warms disk caches, untimed
                for label, checkout in (("base", base), ("head", ROOT)):
                    elapsed = synth(checkout, Path(scratch) / f"{label}-{run}")
                    if run:
                        times[label].append(elapsed)
            base_s, head_s = statistics.median(times["base"]), statistics.median(times["head"])
            print(
                f"reference app synth, median of {args.runs} fresh processes: base {base_s:.2f}"
                f" s, head {head_s:.2f} s, ratio {head_s / base_s:.2f}"
            )
            templates = differing(
                Path(scratch) / "base-1", Path(scratch) / "head-1", "*.template.json"
            )
            print(f"templates differing: {templates or 'none'}")
            render(base, Path(scratch) / "base-yaml")
            render(ROOT, Path(scratch) / "head-yaml")
            yaml_diff = differing(Path(scratch) / "base-yaml", Path(scratch) / "head-yaml", "*")
            print(f"plain-YAML files differing: {yaml_diff or 'none'}")
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
