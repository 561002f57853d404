"""The ``eks-gpu-sharing`` command (cli.py): its subcommands and their help, the console
script, and its exit statuses: 0 success, 1 ``check`` found the folder stale, 2 invalid input
(a config file or a path it cannot use), always as one error line and never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eks_gpu_sharing.cli import main
from eks_gpu_sharing.config import load_config
from eks_gpu_sharing.render import DEVICE_PLUGIN_VALUES_FILE
from eks_gpu_sharing.versions import KARPENTER_VERSION
from tests.config_inputs import CONFIG_TEXT, DEFAULT_CONFIG, run_cli, with_value

ROOT = Path(__file__).resolve().parents[1]


def test_cli_synth_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["synth", "--config", str(DEFAULT_CONFIG), "--out", str(out)]) == 0
    assert main(["check", "--config", str(DEFAULT_CONFIG), "--out", str(out)]) == 0
    (out / DEVICE_PLUGIN_VALUES_FILE).write_text("edited: by hand\n")
    assert main(["check", "--config", str(DEFAULT_CONFIG), "--out", str(out)]) == 1
    assert "stale" in capsys.readouterr().err


def test_check_compares_only_files_synth_owns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["synth", "--config", str(DEFAULT_CONFIG), "--out", str(out)]) == 0
    (out / "helm" / "other-values.yaml").write_text("mine: true\n")
    (out / "kustomization.yaml").write_text("resources: []\n")
    assert main(["check", "--config", str(DEFAULT_CONFIG), "--out", str(out)]) == 0
    (out / "01-pool-inference.k8s.yaml").unlink()
    assert main(["check", "--config", str(DEFAULT_CONFIG), "--out", str(out)]) == 1
    assert f"--config {DEFAULT_CONFIG}" in capsys.readouterr().err


def test_init_writes_the_commented_starter_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "gpu-sharing.yaml"
    assert main(["init", "--config", str(target)]) == 0
    # The starter is the repository's reference file, comments and all, and it loads.
    assert target.read_text() == DEFAULT_CONFIG.read_text()
    assert load_config(target).pools
    target.write_text("mine\n")
    assert main(["init", "--config", str(target)]) == 2
    assert target.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu-sharing.yaml"]


def test_console_command_is_installed() -> None:
    # `pip install .` declares the script in pyproject.toml; run it as a module here so the
    # test also works from a source checkout.
    result = subprocess.run(
        [sys.executable, "-m", "eks_gpu_sharing.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "synth" in result.stdout and "check" in result.stdout
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'eks-gpu-sharing = "eks_gpu_sharing.console:run"' in pyproject


def test_ctrl_c_while_the_command_imports_exits_130_without_a_traceback() -> None:
    """The entry point imports the command inside its handler (jsii takes a second or two)."""
    code = (
        "import builtins, signal, os\n"
        "real = builtins.__import__\n"
        "def importing(name, *args, **kwargs):\n"
        "    if name == 'cdk8s':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = importing\n"
        "import sys; sys.argv = ['eks-gpu-sharing', '--help']\n"
        "from eks_gpu_sharing.console import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("command", ["synth", "check", "simulate", "init", "estimate"])
def test_every_subcommand_help_has_examples_exit_codes_and_the_docs(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"eks-gpu-sharing {command}" in text and "examples:" in text
    assert "exit status:" in text and "docs/configuration.md" in text


def test_bare_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


# -- exit statuses: 2 for any bad input, 1 for a stale folder ----------------------------------


def test_cli_reports_config_errors_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(with_value(["pools", 0, "sharing", "replicas"], 1)))
    assert main(["synth", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "pools[0].sharing.replicas: 1 -- " in err and ">= 2" in err
    assert not (tmp_path / "o").exists()  # nothing half-written


def _nested(depth: int) -> str:
    return "clusterName: " + "[" * depth + "]" * depth + "\n"


TRACEBACK_CASES: dict[str, str | bytes] = {
    "not UTF-8": b"clusterName: \xff\xfe\n",
    "nested 20,000 deep": _nested(20_000),
    "a 5,000-digit integer": CONFIG_TEXT.replace("replicas: 4", "replicas: " + "9" * 5000),
    "architectures: [[amd64]]": CONFIG_TEXT.replace(
        "gpuCounts: [1]\n    sharing:",
        "gpuCounts: [1]\n    architectures: [[amd64]]\n    sharing:",
        1,
    ),
    "a list for a mapping": CONFIG_TEXT.replace("karpenter:\n", "karpenter: []\nx:\n", 1),
    "a mapping for a list": CONFIG_TEXT.replace("gpuCounts: [1]", "gpuCounts: {a: 1}", 1),
    "null pools": "clusterName: demo\npools:\n",
    "a number for a name": CONFIG_TEXT.replace("name: inference", "name: 7", 1),
    "a float for a count": CONFIG_TEXT.replace("gpuLimit: 4 ", "gpuLimit: 4.5 ", 1),
    "a date": CONFIG_TEXT.replace(f'version: "{KARPENTER_VERSION}"', "version: 2026-01-01", 1),
    "a binary tag": CONFIG_TEXT.replace(
        "clusterName: gpu-slicing", "clusterName: !!binary eA==", 1
    ),
    "a Python tag": "clusterName: !!python/object:os.system {}\n",
    "several documents": "clusterName: a\n---\nclusterName: b\n",
    "an empty file": "",
    "a key that is a list": "[a]: 1\n",
}


@pytest.mark.parametrize("text", TRACEBACK_CASES.values(), ids=TRACEBACK_CASES.keys())
def test_7_hostile_files_exit_2_with_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | bytes
) -> None:
    status, err = run_cli(tmp_path, text, capsys)
    assert status == 2, err
    assert err.startswith("eks-gpu-sharing: error: ") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_7_the_config_path_and_the_output_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(CONFIG_TEXT)
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for argv, field in [
        (["--config", str(tmp_path)], "config file"),
        (["--config", str(tmp_path / "missing.yaml")], "config file"),
        (["--config", str(good), "--out", str(tmp_path / "a-file")], "--out"),
        (["--config", str(good), "--out", str(tmp_path / "dangling")], "--out"),
        (["--config", str(good), "--out", str(tmp_path / "a-file" / "sub")], "--out"),
    ]:
        defaults = ["--out", str(tmp_path / "out")] if "--out" not in argv else []
        assert main(["synth", *argv, *defaults]) == 2, argv
        err = capsys.readouterr().err
        given = f"error: {field}" + ("=" if field.startswith("--") else ": ")
        assert given in err and "Traceback" not in err, err
    assert main(["simulate", "--config", str(good), "--pods", "inference=lots"]) == 2
    assert "--pods='inference=lots'" in capsys.readouterr().err


def test_7_exit_codes_are_documented(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    help_text = capsys.readouterr().out
    for line in (
        "0  success",
        "1  check: the folder differs",
        "2  invalid input",
        "3  simulate",
        "4  simulate",
    ):
        assert line in help_text


def test_7_stale_keeps_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG_TEXT)
    out = tmp_path / "out"
    assert main(["synth", "--config", str(config), "--out", str(out)]) == 0
    config.write_text(CONFIG_TEXT.replace("replicas: 4", "replicas: 8"))
    assert main(["check", "--config", str(config), "--out", str(out)]) == 1
    assert "changed: 01-pool-inference.k8s.yaml" in capsys.readouterr().err
