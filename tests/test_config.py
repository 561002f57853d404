"""The config file's reader (config.py): what a valid file means, and every way a file can be
wrong, each refused with errors that name the field, the value and the fix in the file's words.

The loader's own refusals (alias bombs, duplicate keys) run through ``eks-gpu-sharing synth``,
as a user meets them. The command's exit statuses for every other bad input are in
test_cli.py; what a valid file renders to is in test_render.py."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gpu_sharing import (
    AmiFamily,
    CapacityType,
    ConfigurationError,
    ExistingKarpenter,
    GpuPool,
    Mps,
    TimeSlicing,
)
from eks_gpu_sharing.config import load_config, parse_config
from eks_gpu_sharing.errors import NOT_SET, shown, shown_yaml
from eks_gpu_sharing.versions import KARPENTER_VERSION
from tests.config_inputs import (
    CONFIG_TEXT,
    DEFAULT_CONFIG,
    INJECTED,
    MINIMAL,
    document,
    problems,
    run_cli,
    with_value,
)


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
        parse_config(with_value(path, value), source="cfg.yaml")
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
    assert f"--version {KARPENTER_VERSION} --reuse-values" in info.value.fix
    assert "set nodeOverlayEnabled: true" in info.value.fix
    document["pools"][0]["sharing"] = {"mode": "none"}
    assert parse_config(document).pools[0].sharing.replicas == 1


def test_node_overlay_minimum_applies_on_older_kubernetes() -> None:
    document = with_value(["kubernetesVersion"], "1.33")
    document["karpenter"]["version"] = "1.6.3"  # fine for 1.33, but has no NodeOverlay
    with pytest.raises(ConfigurationError) as info:
        parse_config(document)
    assert "NodeOverlay" in info.value.rule
    document["pools"][0]["sharing"] = {"mode": "none"}
    assert parse_config(document).kubernetes_version == "1.33"


def test_mps_rejects_time_slicing_only_keys() -> None:
    document = with_value(
        ["pools", 0, "sharing"], {"mode": "mps", "replicas": 4, "failRequestsGreaterThanOne": False}
    )
    with pytest.raises(ConfigurationError, match="unknown key"):
        parse_config(document)


def test_duplicate_pool_names_are_rejected() -> None:
    document = with_value(["pools"], [{"name": "a"}, {"name": "a"}])
    with pytest.raises(ConfigurationError, match=r"pools\[1\].name: a -- pools\[0\] has the same"):
        parse_config(document)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("pools: [\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_config(broken)


# -- values that would change the meaning of a file written from them --------------------------


def test_1_a_namespace_with_a_newline_is_refused_in_the_file() -> None:
    [(field, rule)] = problems(document(devicePlugin={"namespace": INJECTED}))
    assert field == "devicePlugin.namespace" and "DNS label" in rule


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


# -- YAML the loader refuses: alias bombs, duplicate keys --------------------------------------


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


# -- error messages: bounded, in the file's words, all at once ---------------------------------


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


def test_10_file_errors_use_yaml_keys_and_api_errors_python_names() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_config(document(pool_amiFamily="al2023"))
    message = str(info.value)
    assert "pools[0].amiFamily: al2023 -- " in message and "AL2023, Bottlerocket" in message
    with pytest.raises(ConfigurationError) as info:
        parse_config(document(sampleWorkload={"pool": "inference", "replicas": 999}))
    message += str(info.value)
    assert "sampleWorkload.replicas: 999 -- " in message
    for python in ("ami_family", "AmiFamily.", "SampleWorkloadChart", "replicas=999)"):
        assert python not in message, message
    with pytest.raises(ConfigurationError) as info:
        GpuPool("a", ami_family="al2023")  # type: ignore[arg-type]
    assert info.value.field == "GpuPool('a').ami_family"


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


# -- values the consumers would refuse: bounds, impossible pools, names ------------------------


def test_6_numbers_are_bounded_by_their_consumers() -> None:
    assert ("pools[0].sharing.replicas", "at most 256 per GPU") in problems(
        document(pool_sharing={"mode": "time-slicing", "replicas": 10**60})
    )
    for key, value in [("gpuLimit", 10**60), ("rootVolumeGiB", 10**9), ("weight", 101)]:
        assert f"pools[0].{key}" in [f for f, _ in problems(document(**{f"pool_{key}": value}))]
    with pytest.raises(ConfigurationError, match="at most 48"):
        Mps(replicas=49)


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


def test_gpu_names_as_aws_writes_them_are_read_in_karpenters_lower_case() -> None:
    """EC2 and AWS's pages say T4 and A10G; Karpenter's label values are t4 and a10g. A near
    miss is refused once, with the name it likely meant."""
    upper = parse_config(document(pool_gpuNames=["T4", "A10G"]))
    lower = parse_config(document(pool_gpuNames=["t4", "a10g"]))
    assert upper.pools[0].gpu_names == ("t4", "a10g") and upper == lower
    ((field, rule),) = problems(document(pool_gpuNames=["T4", "A10"]))
    assert field == "pools[0].gpuNames" and "instance catalog" in rule
    with pytest.raises(ConfigurationError) as info:
        parse_config(document(pool_gpuNames=["A10"]))
    assert info.value.fix.startswith("did you mean a10g? use one of ")


def test_file_errors_show_values_as_yaml_and_missing_keys_as_not_set() -> None:
    """Values in the file's notation: `false`, not Python's False; an explicit null is `null`,
    a key left out is `(not set)`; no Python dict of attribute names."""
    text = "\n".join(
        str(p)
        for p in _all_problems(
            document(karpenter={"nodeRoleName": "r", "discoveryTagValue": "d", "version": True})
        )
    )
    assert "karpenter.version: true -- " in text and "True" not in text
    nulled = "\n".join(str(p) for p in _all_problems(document(clusterName=None)))
    assert "clusterName: null -- must be text; give it a value: clusterName: <text>" in nulled
    left_out = {k: v for k, v in document().items() if k != "clusterName"}
    assert "clusterName: (not set) -- is required" in str(_all_problems(left_out)[0])
    neither = "\n".join(str(p) for p in _all_problems(document(pool_sharing={"mode": "mps"})))
    assert "pools[0].sharing.replicas: (not set) -- takes exactly one of" in neither
    assert "memory_gib" not in neither and "None" not in neither


def _all_problems(source: dict[str, Any]) -> tuple[Any, ...]:
    with pytest.raises(ConfigurationError) as info:
        parse_config(source)
    return info.value.problems


@pytest.mark.parametrize(
    ("value", "as_yaml"),
    [
        (False, "false"),
        (None, "null"),
        (NOT_SET, "(not set)"),
        ("t4", "t4"),
        ("yes", '"yes"'),  # YAML would read the bare word as a boolean
        ("1.15", '"1.15"'),
        ("two words", '"two words"'),
        ("line\nbreak", '"line\\nbreak"'),
        (["T4", "A10G"], "[T4, A10G]"),
        ({"mode": "mps", "replicas": 4}, "{mode: mps, replicas: 4}"),
        ("x" * 200, "x" * 77 + "..."),
    ],
)
def test_values_in_file_errors_read_as_yaml(value: object, as_yaml: str) -> None:
    assert shown_yaml(value) == as_yaml


def test_a_deep_or_wide_value_is_cut_in_yaml_too() -> None:
    deep: object = "leaf"
    for _ in range(50):
        deep = [deep]
    assert len(shown_yaml(deep)) < 130 and "..." in shown_yaml(deep)
    assert len(shown_yaml({f"key{i}": "v" * 70 for i in range(100)})) <= 120
