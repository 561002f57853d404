"""The config file, the `eks-gpu-sharing` command and the committed manifests/ folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eks_gpu_sharing import AmiFamily, CapacityType, ConfigurationError, TimeSlicing
from eks_gpu_sharing.cli import main
from eks_gpu_sharing.config import load_config, parse_config
from eks_gpu_sharing.render import DEVICE_PLUGIN_VALUES_FILE, render
from eks_gpu_sharing.upstream import Upstream

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "gpu-sharing.yaml"
MINIMAL = {
    "clusterName": "demo",
    "karpenter": {"nodeRoleName": "KarpenterNodeRole-demo", "nodeOverlayEnabled": True},
    "pools": [{"name": "inference", "sharing": {"mode": "time-slicing", "replicas": 4}}],
}


def _with(path: list[str | int], value: object) -> dict:
    """MINIMAL with one value replaced (or added) at ``path``."""
    document = yaml.safe_load(yaml.safe_dump(MINIMAL))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


def test_default_config_describes_the_reference_pools() -> None:
    config = load_config(DEFAULT_CONFIG)
    assert [p.name for p in config.pools] == ["inference", "batch"]
    inference, batch = config.pools
    assert inference.sharing == TimeSlicing(replicas=4)
    assert batch.ami_family is AmiFamily.BOTTLEROCKET
    assert batch.capacity_types == (CapacityType.SPOT, CapacityType.ON_DEMAND)
    assert config.karpenter.discovery_tag_value == "gpu-slicing"
    assert config.sample_workload is not None and config.sample_workload.pool == "inference"


def test_discovery_tag_defaults_to_the_cluster_name() -> None:
    assert parse_config(MINIMAL).karpenter.discovery_tag_value == "demo"


@pytest.mark.parametrize(
    ("path", "value", "field", "fix_fragment"),
    [
        (["pools", 0, "sharing", "replicas"], 1, "pools[0].sharing.replicas", "2 or more"),
        (["pools", 0, "sharing", "mode"], "slicing", "pools[0].sharing.mode", "time-slicing"),
        (["pools", 0, "gpuLimits"], 4, "pools[0].gpuLimits", "did you mean gpuLimit?"),
        (["pools", 0, "gpuLimit"], "4", "pools[0].gpuLimit", "gpuLimit: 4"),
        (["pools", 0, "gpuLimit"], 0, "pools[0].gpuLimit", "gpuLimit: 8"),
        (["pools", 0, "amiFamily"], "al2023", "pools[0].amiFamily", "AL2023"),
        (["pools", 0, "capacityTypes"], ["ondemand"], "pools[0].capacityTypes[0]", "on-demand"),
        (["pools", 0, "name"], "Inference", "pools[0].name", 'name: "inference"'),
        (
            ["pools", 0, "taints"],
            [{"key": "a", "effect": "Never"}],
            "pools[0].taints[0].effect",
            "NoSchedule",
        ),
        (
            ["pools", 0, "disruption"],
            {"consolidateAfter": "5 minutes"},
            "pools[0].disruption.consolidateAfter",
            'consolidateAfter: "5m"',
        ),
        (
            ["karpenter", "nodeOverlayEnabled"],
            False,
            "karpenter.nodeOverlayEnabled",
            "featureGates",
        ),
        (["karpenter", "version"], "1.12.0", "karpenter.version", "1.13.0 or later"),
        (["karpenter", "version"], "latest", "karpenter.version", "helm list"),
        (["karpenter", "version"], "v1.14.1", "karpenter.version", "helm list"),
        (["karpenter", "version"], "1.14", "karpenter.version", "helm list"),
        (["kubernetesVersion"], "1.99", "kubernetesVersion", "1.36"),
        (["karpenter", "nodeRoleName"], "arn:aws:iam::1:role/x", "karpenter.nodeRoleName", "name"),
        (
            ["sampleWorkload"],
            {"pool": "inference", "replicas": 999},
            "sampleWorkload.replicas",
            "at most 32",
        ),
        (["sampleWorkload"], {"pool": "nope"}, "sampleWorkload.pool", "inference"),
        (["pools"], [], "pools", "name"),
        (["devicePlugin"], {"namespace": "NVIDIA"}, "devicePlugin.namespace", "nvidia"),
    ],
)
def test_config_errors_name_the_location_value_and_fix(
    path: list, value: object, field: str, fix_fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_config(_with(path, value), source="cfg.yaml")
    message = str(info.value)
    assert message.startswith("cfg.yaml: "), message
    assert info.value.field == field, info.value.field
    assert fix_fragment in info.value.fix, info.value.fix
    # The words of the file, never the Python API's.
    assert not any(
        python in message for python in ("GpuPool", "TimeSlicing", "_", "AmiFamily.", "=True")
    ), message


def test_feature_gate_must_be_confirmed_for_shared_pools() -> None:
    document = yaml.safe_load(yaml.safe_dump(MINIMAL))
    del document["karpenter"]["nodeOverlayEnabled"]  # defaults to false, like ExistingKarpenter
    with pytest.raises(ConfigurationError) as info:
        parse_config(document)
    assert info.value.field == "karpenter.nodeOverlayEnabled"
    assert "--version 1.14.1 --reuse-values" in info.value.fix
    assert "set nodeOverlayEnabled: true" in info.value.fix
    document["pools"][0]["sharing"] = {"mode": "none"}
    assert parse_config(document).pools[0].sharing.replicas == 1


def test_node_overlay_minimum_applies_on_older_kubernetes() -> None:
    document = _with(["kubernetesVersion"], "1.33")
    document["karpenter"]["version"] = "1.6.3"  # fine for 1.33, but has no NodeOverlay
    with pytest.raises(ConfigurationError) as info:
        parse_config(document)
    assert "NodeOverlay" in info.value.rule
    document["pools"][0]["sharing"] = {"mode": "none"}
    assert parse_config(document).kubernetes_version == "1.33"


def test_mps_rejects_time_slicing_only_keys() -> None:
    document = _with(
        ["pools", 0, "sharing"], {"mode": "mps", "replicas": 4, "failRequestsGreaterThanOne": False}
    )
    with pytest.raises(ConfigurationError, match="unknown key"):
        parse_config(document)


def test_duplicate_pool_names_are_rejected() -> None:
    document = _with(["pools"], [{"name": "a"}, {"name": "a"}])
    with pytest.raises(ConfigurationError, match=r"pools\[1\].name='a': pools\[0\] has the same"):
        parse_config(document)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("pools: [\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_config(broken)


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


def test_cli_reports_config_errors_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with(["pools", 0, "sharing", "replicas"], 1)))
    assert main(["synth", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "pools[0].sharing.replicas=1" in err and ">= 2" in err
    assert not (tmp_path / "o").exists()  # nothing half-written


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
    assert 'eks-gpu-sharing = "eks_gpu_sharing.cli:main"' in pyproject


def test_committed_manifests_match_the_code() -> None:
    """manifests/ is committed for kubectl/GitOps users; it must be what the code produces."""
    assert (
        main(["check", "--config", str(DEFAULT_CONFIG), "--out", str(ROOT / "manifests")]) == 0
    ), "manifests/ is stale: run `make synth` (or `eks-gpu-sharing synth`) and commit the result"


def test_device_plugin_values_use_only_keys_the_chart_has(harness: Upstream) -> None:
    """Helm ignores a misspelt key silently: every key must be one of the chart's values.yaml
    (as Helm loads it from the pinned module). The rendering itself is tested in
    test_upstream_charts.py."""
    known = harness.render_chart(
        "nvidia-device-plugin", release="nvidia-device-plugin", namespace="n", values={}
    )["defaults"]
    values = yaml.safe_load((ROOT / "manifests" / DEVICE_PLUGIN_VALUES_FILE).read_text())
    assert set(values) <= set(known), set(values) - set(known)
    assert set(values["config"]) <= set(known["config"])
    assert set(values["gfd"]) <= set(known["gfd"])


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
