"""A step of `make` that takes minutes says so at least once a minute (scripts/step.sh)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

STEP = Path(__file__).resolve().parents[1] / "scripts" / "step.sh"


def _step(*command: str, every: int = 1) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    # Through a pipe, as CI reads it: a heartbeat left behind would hold the pipe open.
    done = subprocess.run(
        [str(STEP), "Lint: example", *command],
        env={**os.environ, "STEP_HEARTBEAT_SECONDS": str(every)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - start


def test_a_long_step_says_it_is_still_running_and_ends_when_its_command_does() -> None:
    done, elapsed = _step("sleep", "2.5")
    lines = done.stdout.splitlines()
    assert done.returncode == 0
    assert lines[0] == "Lint: example..."
    assert lines[1:3] == [
        "Lint: example: still running (1 s)",
        "Lint: example: still running (2 s)",
    ]
    assert lines[-1].startswith("Lint: example: done in 2.")
    assert elapsed < 4.5  # not held until the next heartbeat would have been due


def test_a_failing_step_shows_its_output_and_keeps_its_status() -> None:
    done, _ = _step("sh", "-c", "echo the reason >&2; exit 3", every=30)
    assert done.returncode == 3
    assert "the reason" in done.stderr and "Lint: example: FAILED (exit 3)" in done.stderr
    assert "still running" not in done.stdout


def test_the_makefile_runs_every_lint_check_as_a_step() -> None:
    """mypy and go vet take minutes on a cold machine: each runs through step.sh."""
    makefile = (STEP.parents[1] / "Makefile").read_text()
    lint = makefile.split("\nlint: ")[1].split("\n\n")[0]
    for check in ("ruff check", "ruff format --check", "mypy", "gofmt", "go vet"):
        (line,) = [line for line in lint.splitlines() if f'"Lint: {check}' in line]
        assert line.lstrip().startswith("@$(STEP) "), line
