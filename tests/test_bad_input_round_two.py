"""Bad input never harms, round two: each case was reproduced on the earlier main and fails
there (a traceback, a hang, an echoed secret, a forged line, a token that resolves elsewhere,
the wrong exit status). The output folder's cases are in tests/test_output_folder.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest

from eks_gpu_sharing.cli import EXIT_INTERNAL, EXIT_INVALID, main
from eks_gpu_sharing.errors import ConfigurationError
from eks_gpu_sharing.karpenter_installation import ExistingKarpenter

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "gpu-sharing.yaml"


def test_a_file_that_is_not_a_config_is_not_echoed(tmp_path: Path, capsys) -> None:
    secret = tmp_path / ".env"
    secret.write_text("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n")
    assert main(["synth", "--config", str(secret), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "wJalrXUtnFEMI" not in err and "<text of 60 characters>" in err
    assert not (tmp_path / "out").exists()


def test_control_characters_in_keys_cannot_forge_lines(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text('clusterName: c\n"x\\neks-gpu-sharing: all good\\u001b[2J": 1\n')
    assert main(["synth", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert not any(line.startswith("eks-gpu-sharing: all good") for line in err.splitlines())


def test_a_token_in_a_config_file_is_refused(tmp_path: Path, capsys) -> None:
    """In a CDK app `${Token[TOKEN.12]}` would resolve to whatever object has that number."""
    config = tmp_path / "c.yaml"
    config.write_text(
        CONFIG.read_text().replace(
            "nodeRoleName: KarpenterNodeRole-gpu-slicing", 'nodeRoleName: "${Token[TOKEN.12]}"'
        )
    )
    assert main(["synth", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    assert "karpenter.nodeRoleName" in capsys.readouterr().err


def test_a_token_in_the_python_api_checks_the_text_around_it() -> None:
    token = cdk.Token.as_string(cdk.Fn.ref("KarpenterNodeRole"))
    ExistingKarpenter(token, "c", "1.14.1", node_overlay_enabled=True)  # resolved at deploy
    with pytest.raises(ConfigurationError, match="around the CDK token"):
        ExistingKarpenter(
            "r", "c", "1.14.1", discovery_tag_key=f"{token}\nx", node_overlay_enabled=True
        )


def test_a_fifo_as_config_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "eks_gpu_sharing.cli",
            "synth",
            "--config",
            str(fifo),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_INVALID and "not a regular file" in done.stderr


def test_init_into_a_folder_name_is_refused(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "newdir"
    assert main(["init", "--config", f"{folder}/"]) == EXIT_INVALID
    assert not folder.exists() and "names a folder" in capsys.readouterr().err


@pytest.mark.parametrize("count", ["²", "٣", "1e3", "-1"])
def test_pod_counts_are_ascii_digits(count: str, capsys) -> None:
    assert main(["simulate", "--config", str(CONFIG), "--pods", f"inference={count}"]) == 2
    assert "whole number" in capsys.readouterr().err


def test_estimate_outputs_are_checked_together(tmp_path: Path, capsys) -> None:
    workloads = str(ROOT / "examples" / "workloads.yaml")
    same = str(tmp_path / "a.yaml")
    assert (
        main(
            [
                "estimate",
                "--workloads",
                workloads,
                "--arithmetic",
                "--write-config",
                same,
                "--chart",
                f"{tmp_path}/./a.yaml",
            ]
        )
        == 2
    )
    assert "same file as --write-config" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["estimate", "--workloads", workloads, "--arithmetic", "--chart", ""]) == 2
    assert "is empty" in capsys.readouterr().err


def test_an_unexpected_error_has_its_own_status(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A bug must not exit 1, which `check` uses for "stale"."""
    import eks_gpu_sharing.cli as cli

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\x1b[2J")

    monkeypatch.setattr(cli, "load_config", broken)
    assert main(["check", "--config", str(CONFIG), "--out", "manifests"]) == EXIT_INTERNAL == 70
    err = capsys.readouterr().err
    assert (
        "internal error: RuntimeError: boom\\x1b[2J" in err and "\x1b" not in err.splitlines()[-1]
    )
