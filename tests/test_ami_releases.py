"""AMI pins (ami_releases.py): a per-pool override, a well-formed release for its family, and
a release that has NVIDIA AMIs for the cluster's Kubernetes version (the pin moves with every
minor upgrade), checked at synth time on both paths."""

from __future__ import annotations

import pytest
import yaml

from eks_gpu_sharing import AmiFamily, ConfigurationError, GpuPool, TimeSlicing
from eks_gpu_sharing.ami_releases import (
    AL2023_SUPPORT,
    BOTTLEROCKET_SUPPORT,
    kubernetes_support_error,
    release_format_error,
)
from eks_gpu_sharing.config import parse_config
from eks_gpu_sharing.karpenter_compatibility import KARPENTER_MINIMUM_FOR_KUBERNETES
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.versions import KUBERNETES_VERSION
from tests.pools import KARPENTER
from tests.upstream_checks import admission_errors

MINIMAL = {
    "clusterName": "demo",
    "karpenter": {"nodeRoleName": "KarpenterNodeRole-demo", "nodeOverlayEnabled": True},
    "pools": [{"name": "inference", "sharing": {"mode": "time-slicing", "replicas": 4}}],
}


@pytest.mark.parametrize(
    ("family", "release", "ok"),
    [
        (AmiFamily.AL2023, "v20260714", True),
        (AmiFamily.AL2023, "latest", False),
        (AmiFamily.AL2023, "20260714", False),
        (AmiFamily.AL2023, "v20260714\n", False),
        (AmiFamily.AL2023, "v1.63.0", False),
        (AmiFamily.BOTTLEROCKET, "v1.63.0", True),
        (AmiFamily.BOTTLEROCKET, "1.63.0", False),
        (AmiFamily.BOTTLEROCKET, "v20260714", False),
    ],
)
def test_release_format_per_family(family: AmiFamily, release: str, ok: bool) -> None:
    assert (release_format_error(family, release) is None) is ok


def test_the_default_pins_have_amis_for_the_default_kubernetes() -> None:
    for family in AmiFamily:
        assert kubernetes_support_error(family, family.default_release, KUBERNETES_VERSION) is None
    # ... because the tables know the default Kubernetes version: the check is not vacuous.
    assert KUBERNETES_VERSION in AL2023_SUPPORT and KUBERNETES_VERSION in BOTTLEROCKET_SUPPORT


def test_every_minor_karpenter_supports_is_known_or_left_unchecked() -> None:
    """The tables may skip minors they cannot source, but never claim support backwards."""
    for table in (AL2023_SUPPORT, BOTTLEROCKET_SUPPORT):
        assert set(table) <= set(KARPENTER_MINIMUM_FOR_KUBERNETES)
        for support in table.values():
            if support.first and support.ended:
                assert support.first < support.ended


@pytest.mark.parametrize(
    ("family", "release", "kubernetes", "fragment"),
    [
        (AmiFamily.AL2023, "v20260505", "1.36", "first release with one is v20260610"),
        (AmiFamily.AL2023, "v20260714", "1.29", "no longer has a Kubernetes 1.29 AMI"),
        (AmiFamily.BOTTLEROCKET, "v1.60.0", "1.36", "first release with one is v1.61.0"),
        (AmiFamily.BOTTLEROCKET, "v1.9.0", "1.35", "first release with one is v1.53.0"),
        (AmiFamily.BOTTLEROCKET, "v1.63.0", "1.29", "no longer has"),
    ],
)
def test_releases_without_amis_for_the_cluster_are_refused(
    family: AmiFamily, release: str, kubernetes: str, fragment: str
) -> None:
    pool = GpuPool(
        "p",
        ami_family=family,
        ami_version=release,
        sharing=TimeSlicing(replicas=2),
    )
    with pytest.raises(ConfigurationError) as info:
        _setup(pool, kubernetes)
    assert info.value.field == "GpuPool('p').ami_version"
    assert fragment in info.value.rule


def test_the_library_pin_names_the_kubernetes_version_as_the_field() -> None:
    pool = GpuPool("p", ami_family=AmiFamily.BOTTLEROCKET, sharing=TimeSlicing(replicas=2))
    with pytest.raises(ConfigurationError) as info:
        _setup(pool, "1.29")
    assert info.value.field == "GpuSharing.kubernetes_version"
    assert "ami_version" in info.value.fix


def test_the_config_file_speaks_yaml_and_reports_every_pool() -> None:
    document = yaml.safe_load(yaml.safe_dump(MINIMAL))
    document["pools"][0]["amiVersion"] = "v20260505"
    document["pools"].append({"name": "br", "amiFamily": "Bottlerocket", "amiVersion": "v1.60.0"})
    with pytest.raises(ConfigurationError) as info:
        parse_config(document)
    fields = {problem.field: problem for problem in info.value.problems}
    assert set(fields) == {"pools[0].amiVersion", "pools[1].amiVersion"}
    assert "v20260610" in fields["pools[0].amiVersion"].rule
    assert "v1.61.0" in fields["pools[1].amiVersion"].rule
    document["pools"][1]["amiVersion"] = "latest"
    with pytest.raises(ConfigurationError) as info:
        parse_config(document)
    assert "amiVersion: 'v1.63.0'" in info.value.fix


def test_an_override_reaches_the_node_class_and_the_api_server_admits_it(
    harness: Upstream,
) -> None:
    import cdk8s

    from eks_gpu_sharing.k8s import GpuPoolChart

    pool = GpuPool("early", sharing=TimeSlicing(replicas=4), ami_version="v20260625")
    chart = GpuPoolChart(cdk8s.App(), "early", pool=pool, karpenter=KARPENTER)
    (node_class,) = [o for o in chart.to_json() if o["kind"] == "EC2NodeClass"]
    assert node_class["spec"]["amiSelectorTerms"] == [{"alias": "al2023@v20260625"}]
    assert admission_errors(harness, [node_class]) == []


def _setup(pool: GpuPool, kubernetes_version: str) -> GpuSharingSetup:
    """The AMI rules as a construct's props meet them (errors named ``GpuSharing.<prop>``)."""
    return GpuSharingSetup.from_options(
        error_owner="GpuSharing",
        cluster_name="c",
        karpenter=KARPENTER,
        kubernetes_version=kubernetes_version,
        pools=[pool],
    )
