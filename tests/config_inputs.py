"""Config inputs shared by the tests of the config reader, the CLI and the renderer: the
reference file, a minimal document and two ways to vary it, the reader's problems as (field,
rule) pairs, and ``eks-gpu-sharing synth`` run on a config text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gpu_sharing.cli import main
from eks_gpu_sharing.config import parse_config
from eks_gpu_sharing.errors import ConfigurationError

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "gpu-sharing.yaml"
CONFIG_TEXT = DEFAULT_CONFIG.read_text()
MINIMAL: dict[str, Any] = {
    "clusterName": "demo",
    "karpenter": {"nodeRoleName": "KarpenterNodeRole-demo", "nodeOverlayEnabled": True},
    "pools": [{"name": "inference", "sharing": {"mode": "time-slicing", "replicas": 4}}],
}
#: A namespace that would add keys to a YAML file written by string formatting.
INJECTED = "nvidia\nimage: {repository: evil.example.com/plugin, tag: v1}"


def with_value(path: list[str | int], value: object) -> dict:
    """MINIMAL with one value replaced (or added) at ``path``."""
    document = yaml.safe_load(yaml.safe_dump(MINIMAL))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


def document(**changes: Any) -> dict[str, Any]:
    """MINIMAL with top-level keys or pool 0 keys (``pool_<key>``) replaced."""
    result = yaml.safe_load(yaml.safe_dump(MINIMAL))
    for key, value in changes.items():
        if key.startswith("pool_"):
            result["pools"][0][key.removeprefix("pool_")] = value
        else:
            result[key] = value
    return result


def problems(source: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, rule) of every problem parse_config finds; fails if it finds none."""
    with pytest.raises(ConfigurationError) as info:
        parse_config(source)
    return [(problem.field, problem.rule) for problem in info.value.problems]


def run_cli(
    tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    """``eks-gpu-sharing synth`` on ``text`` written to a file, into ``tmp_path/out``: the exit
    status and what it printed on stderr."""
    config = tmp_path / "config.yaml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    status = main(["synth", "--config", str(config), "--out", str(tmp_path / "out"), *extra])
    return status, capsys.readouterr().err
