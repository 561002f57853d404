"""Bad input never harms (issue 9): one regression test per item of the issue, each reproducing
what a careless or hostile user did on the old main. The output-folder items (2 and 3) are in
test_output_folder.py; the property-based suite over all of it is test_hostile_input.py."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml

from eks_gpu_sharing import (
    ConfigurationError,
    ExistingKarpenter,
    GpuPool,
    GpuSharingCluster,
    Mps,
    ReferenceCluster,
    Taint,
    TimeSlicing,
)
from eks_gpu_sharing.cli import main
from eks_gpu_sharing.config import parse_config
from eks_gpu_sharing.errors import shown
from eks_gpu_sharing.k8s import DevicePluginConfigChart
from eks_gpu_sharing.pool import Disruption
from eks_gpu_sharing.render import DEVICE_PLUGIN_VALUES_FILE, rendered_files

ROOT = Path(__file__).resolve().parents[1]
CONFIG_TEXT = (ROOT / "gpu-sharing.yaml").read_text()
MINIMAL: dict[str, Any] = {
    "clusterName": "demo",
    "karpenter": {"nodeRoleName": "KarpenterNodeRole-demo", "nodeOverlayEnabled": True},
    "pools": [{"name": "inference", "sharing": {"mode": "time-slicing", "replicas": 4}}],
}


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
    config = tmp_path / "config.yaml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    status = main(["synth", "--config", str(config), "--out", str(tmp_path / "out"), *extra])
    return status, capsys.readouterr().err


# 1. Injection ---------------------------------------------------------------------------------

INJECTED = "nvidia\nimage: {repository: evil.example.com/plugin, tag: v1}"


def test_1_a_namespace_with_a_newline_is_refused_in_the_file() -> None:
    [(field, rule)] = problems(document(devicePlugin={"namespace": INJECTED}))
    assert field == "devicePlugin.namespace" and "DNS label" in rule


def test_1_a_namespace_with_a_newline_is_refused_by_the_constructs() -> None:
    pool = GpuPool("inference", sharing=TimeSlicing(replicas=4))
    with pytest.raises(ConfigurationError) as info:
        DevicePluginConfigChart(cdk8s_app(), "config", pools=[pool], namespace=INJECTED)
    assert info.value.field == "DevicePluginConfigChart.namespace"
    with pytest.raises(ConfigurationError) as info:
        GpuSharingCluster(cdk.Stack(), "S", pools=[pool], device_plugin_namespace=INJECTED)
    assert info.value.field == "GpuSharingCluster.device_plugin_namespace"


def test_1_the_values_file_is_yaml_built_by_a_serializer() -> None:
    """Whatever a valid config holds, the values file parses to exactly the derived values
    (the comment header cannot carry a key): no image, no extra key."""
    config = parse_config(yaml.safe_load(CONFIG_TEXT))
    text = rendered_files(config)[DEVICE_PLUGIN_VALUES_FILE].decode()
    values = yaml.safe_load(text)
    assert "image" not in values
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert len(header) == 3 and all(line.isprintable() for line in header)


def cdk8s_app() -> Any:
    import cdk8s

    return cdk8s.App()


# 4. Alias bomb --------------------------------------------------------------------------------

ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nclusterName: *f\n"
)


def test_4_an_alias_bomb_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(ALIAS_BOMB) < 400
    started = time.perf_counter()
    tracemalloc.start()
    try:
        status, err = run_cli(tmp_path, ALIAS_BOMB, capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 2 and "aliases (*name) are not allowed" in err and "line 2" in err
    assert time.perf_counter() - started < 5 and peak < 20_000_000
    assert not (tmp_path / "out").exists()


def test_4_long_values_are_cut_in_messages() -> None:
    nested: list[Any] = ["lol"] * 9
    for _ in range(8):  # 9**9 leaves if expanded
        nested = [nested] * 9
    assert len(shown(nested)) <= 120
    assert len(shown("x" * 10_000)) < 100
    assert "clusterName" in [field for field, _ in problems(document(clusterName="x" * 10_000))]
    with pytest.raises(ConfigurationError) as info:
        parse_config(document(clusterName="x" * 10_000))
    assert all(len(str(problem)) < 400 for problem in info.value.problems)


# 5. Whole-string matches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pool_name": "batch\n"}, "pools[0].name"),
        ({"pool_labels": {"team": "ml\n"}}, "pools[0].labels"),
        ({"pool_labels": {"team\n": "ml"}}, "pools[0].labels"),
        ({"pool_taints": [{"key": "gpu\n", "effect": "NoSchedule"}]}, "pools[0].taints[0].key"),
        ({"pool_disruption": {"consolidateAfter": "5m\n"}}, "pools[0].disruption.consolidateAfter"),
        ({"pool_instanceFamilies": ["g5\n"]}, "pools[0].instanceFamilies"),
        ({"clusterName": "demo\n"}, "clusterName"),
        ({"karpenter": {**MINIMAL["karpenter"], "version": "1.14.1\n"}}, "karpenter.version"),
    ],
)
def test_5_a_trailing_newline_passes_no_pattern_in_the_file(
    changes: dict[str, Any], field: str
) -> None:
    assert any(found.startswith(field) for found, _ in problems(document(**changes)))


def test_5_a_trailing_newline_passes_no_pattern_in_the_api() -> None:
    for build, field in [
        (lambda: GpuPool("batch\n"), ".name"),
        (lambda: GpuPool("a", labels={"team": "ml\n"}), "GpuPool('a').labels"),
        (lambda: Taint(key="gpu\n"), "Taint.key"),
        (lambda: Disruption(consolidate_after="5m\n"), "Disruption.consolidate_after"),
        (
            lambda: ExistingKarpenter(
                node_role_name="r", discovery_tag_value="demo\n", version="1.14.1"
            ),
            "discovery_tag_value",
        ),
        (lambda: ReferenceCluster(cdk.Stack(), "C", cluster_name="demo\n"), "cluster_name"),
        (
            lambda: ReferenceCluster(
                cdk.Stack(), "C", admin_role_arn="arn:aws:iam::123456789012:role/Admin\n"
            ),
            "admin_role_arn",
        ),
        (
            lambda: ReferenceCluster(cdk.Stack(), "C", system_node_instance_types=["m7i.large\n"]),
            "system_node_instance_types",
        ),
    ]:
        with pytest.raises(ConfigurationError) as info:
            build()
        assert field in info.value.field, (field, info.value.field)


# 6. Upper bounds ------------------------------------------------------------------------------


def test_6_numbers_are_bounded_by_their_consumers() -> None:
    assert ("pools[0].sharing.replicas", "at most 256 per GPU") in problems(
        document(pool_sharing={"mode": "time-slicing", "replicas": 10**60})
    )
    for key, value in [("gpuLimit", 10**60), ("rootVolumeGiB", 10**9), ("weight", 101)]:
        assert f"pools[0].{key}" in [f for f, _ in problems(document(**{f"pool_{key}": value}))]
    with pytest.raises(ConfigurationError, match="at most 48"):
        Mps(replicas=49)


def test_6_profile_labels_fit_a_label_value_at_every_bound() -> None:
    for sharing in (
        TimeSlicing(replicas=256, rename_by_default=True, fail_requests_greater_than_one=True),
        Mps(replicas=48),
    ):
        assert len(sharing.profile_name) <= 63, sharing.profile_name


# 7. Tracebacks become errors with exit status 2 -----------------------------------------------


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
    "a date": CONFIG_TEXT.replace('version: "1.14.1"', "version: 2026-01-01", 1),
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
        assert f"error: {field}=" in err and "Traceback" not in err, err
    assert main(["simulate", "--config", str(good), "--pods", "inference=lots"]) == 2
    assert "--pods='inference=lots'" in capsys.readouterr().err


def test_7_exit_codes_are_documented(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    help_text = capsys.readouterr().out
    for line in ("0  success", "1  check: the folder differs", "2  invalid input", "3  simulate"):
        assert line in help_text


def test_7_stale_keeps_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG_TEXT)
    out = tmp_path / "out"
    assert main(["synth", "--config", str(config), "--out", str(out)]) == 0
    config.write_text(CONFIG_TEXT.replace("replicas: 4", "replicas: 8"))
    assert main(["check", "--config", str(config), "--out", str(out)]) == 1
    assert "changed: 01-pool-inference.k8s.yaml" in capsys.readouterr().err


# 8. Duplicate keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "clusterName: a\nclusterName: b\n",
        CONFIG_TEXT.replace("gpuLimit: 4 ", "gpuLimit: 4\n    gpuLimit: 8 ", 1),
        "clusterName: a\n? clusterName\n: b\n",
    ],
)
def test_8_duplicate_keys_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    status, err = run_cli(tmp_path, text, capsys)
    assert status == 2 and "duplicate key" in err and "the last would win" in err


# 9. Impossible pools --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "hint"),
    [
        ({"pool_gpuNames": ["a100x"]}, "pools[0].gpuNames", "a100"),
        ({"pool_instanceFamilies": ["m5"]}, "pools[0].instanceFamilies", "g6"),
        ({"pool_instanceFamilies": ["inf2"]}, "pools[0].instanceFamilies", "p5"),
        (
            {"pool_instanceFamilies": ["g5"], "pool_gpuNames": ["h100"]},
            "pools[0].gpuNames",
            "a10g",
        ),
        (
            {"pool_architectures": ["arm64"], "pool_gpuNames": ["a10g"]},
            "pools[0].gpuNames",
            "t4g",
        ),
    ],
)
def test_9_pools_that_can_never_launch_are_refused_with_the_valid_names(
    changes: dict[str, Any], field: str, hint: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_config(document(**changes))
    found = {problem.field: problem for problem in info.value.problems}
    assert field in found, found
    assert hint in found[field].rule + found[field].fix


# 10. The file's vocabulary --------------------------------------------------------------------


def test_10_file_errors_use_yaml_keys_and_api_errors_python_names() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_config(document(pool_amiFamily="al2023"))
    message = str(info.value)
    assert "pools[0].amiFamily='al2023'" in message and "AL2023, Bottlerocket" in message
    with pytest.raises(ConfigurationError) as info:
        parse_config(document(sampleWorkload={"pool": "inference", "replicas": 999}))
    message += str(info.value)
    assert "sampleWorkload.replicas=999" in message
    for python in ("ami_family", "AmiFamily.", "SampleWorkloadChart", "replicas=999)"):
        assert python not in message, message
    with pytest.raises(ConfigurationError) as info:
        GpuPool("a", ami_family="al2023")  # type: ignore[arg-type]
    assert info.value.field == "GpuPool('a').ami_family"


# 11. Every error at once ----------------------------------------------------------------------


def test_11_every_problem_of_a_file_is_reported_at_once() -> None:
    bad = document(
        clusterName="Demo!",
        pool_gpuLimit=0,
        pool_labels={"team": "ml\n"},
        devicePlugin={"namespace": "NVIDIA"},
    )
    fields = [field for field, _ in problems(bad)]
    assert set(fields) == {
        "clusterName",
        "pools[0].gpuLimit",
        "pools[0].labels",
        "devicePlugin.namespace",
    }, fields


# 12. The CDK path validates before it writes --------------------------------------------------


@pytest.mark.parametrize(
    "props",
    [
        {"pools": [GpuPool("inference")], "device_plugin_namespace": "NVIDIA"},
        {"pools": [GpuPool("inference")], "instance_tags": {"karpenter.sh/nodepool": "x"}},
        {"pools": [GpuPool("inference")], "cluster_name": "demo\n"},
        {"pools": []},
    ],
    ids=["namespace", "instance-tags", "cluster-name", "no-pools"],
)
def test_12_nothing_is_staged_before_the_props_are_checked(
    tmp_path: Path, props: dict[str, Any]
) -> None:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "S")
    with pytest.raises(ConfigurationError):
        GpuSharingCluster(stack, "Gpu", **props)
    staged = list((tmp_path / "cdk.out").glob("asset.*")) if (tmp_path / "cdk.out").exists() else []
    assert staged == []
    assert (
        stack.node.try_find_child("Gpu") is None or not stack.node.find_child("Gpu").node.children
    )


def test_12_a_valid_cluster_does_stage_the_kubectl_layer(tmp_path: Path) -> None:
    """The check above could pass by never staging anything: a valid one does stage."""
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    GpuSharingCluster(cdk.Stack(app, "S"), "Gpu", pools=[GpuPool("inference")])
    assert list((tmp_path / "cdk.out").glob("asset.*"))


# 13. Names and versions the cluster would refuse ----------------------------------------------


def test_13_names_and_versions_the_cluster_refuses() -> None:
    assert [f for f, _ in problems(document(devicePlugin={"namespace": "NVIDIA"}))] == [
        "devicePlugin.namespace"
    ]
    for version in ("v1.14.1", "1.14", "1.14.1 ", "latest"):
        fields = [
            f for f, _ in problems(document(karpenter={**MINIMAL["karpenter"], "version": version}))
        ]
        assert fields == ["karpenter.version"], (version, fields)
        with pytest.raises(ConfigurationError) as info:
            ExistingKarpenter(node_role_name="r", discovery_tag_value="demo", version=version)
        assert info.value.field == "ExistingKarpenter.version"
