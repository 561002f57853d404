"""The plain-YAML renderer (render.py): the files ``synth`` writes for a config, the device
plugin's values file (built by a YAML serializer, so no value can add a key), replacing only its
own files, and the committed manifests/ folder being what the code renders.

How the folder is written (records, links, failures) is in test_output_folder.py; updates of a
rendered folder converging on a cluster are in test_updates_converge.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eks_gpu_sharing import ConfigurationError
from eks_gpu_sharing.cli import main
from eks_gpu_sharing.config import load_config, parse_config
from eks_gpu_sharing.render import DEVICE_PLUGIN_VALUES_FILE, render, rendered_files
from tests.config_inputs import CONFIG_TEXT, DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[1]


def test_render_writes_every_kind_and_a_helm_values_file(tmp_path: Path) -> None:
    files = render(load_config(DEFAULT_CONFIG), tmp_path)
    names = [str(f.relative_to(tmp_path)) for f in files]
    assert DEVICE_PLUGIN_VALUES_FILE in names
    kinds = {
        doc["kind"]
        for f in files
        if f.name.endswith(".k8s.yaml")
        for doc in yaml.safe_load_all(f.read_text())
        if doc
    }
    assert {"EC2NodeClass", "NodePool", "NodeOverlay", "ConfigMap", "Job"} <= kinds
    values_text = (tmp_path / DEVICE_PLUGIN_VALUES_FILE).read_text()
    assert "helm upgrade --install nvidia-device-plugin" in values_text
    values = yaml.safe_load(values_text)
    assert values["config"]["name"] == "nvidia-device-plugin-config"


def test_render_replaces_only_its_own_files(tmp_path: Path) -> None:
    # A folder written before the file record existed: our old files carry the managed-by label.
    (tmp_path / "99-old-pool.k8s.yaml").write_text(
        "metadata:\n  labels:\n    app.kubernetes.io/managed-by: eks-gpu-sharing\n"
    )
    (tmp_path / "98-someone-else.k8s.yaml").write_text("kind: ConfigMap\n")
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    render(load_config(DEFAULT_CONFIG), tmp_path)
    assert not (tmp_path / "99-old-pool.k8s.yaml").exists()
    assert (tmp_path / "98-someone-else.k8s.yaml").exists()
    assert (tmp_path / "kustomization.yaml").exists()


def test_render_error_leaves_the_folder_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import eks_gpu_sharing.render as render_module

    render(load_config(DEFAULT_CONFIG), tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def broken(*args: object, **kwargs: object) -> None:
        raise ConfigurationError(field="f", value="v", rule="r", fix="x")

    monkeypatch.setattr(render_module, "build_gpu_sharing_charts", broken)
    with pytest.raises(ConfigurationError):
        render(load_config(DEFAULT_CONFIG), tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_1_the_values_file_is_yaml_built_by_a_serializer() -> None:
    """Whatever a valid config holds, the values file parses to exactly the derived values
    (the comment header cannot carry a key): no image, no extra key."""
    config = parse_config(yaml.safe_load(CONFIG_TEXT))
    text = rendered_files(config)[DEVICE_PLUGIN_VALUES_FILE].decode()
    values = yaml.safe_load(text)
    assert "image" not in values
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert len(header) == 3 and all(line.isprintable() for line in header)


def test_committed_manifests_match_the_code() -> None:
    """manifests/ is committed for kubectl/GitOps users; it must be what the code produces."""
    assert (
        main(["check", "--config", str(DEFAULT_CONFIG), "--out", str(ROOT / "manifests")]) == 0
    ), "manifests/ is stale: run `make synth` (or `eks-gpu-sharing synth`) and commit the result"
