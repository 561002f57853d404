"""The instance catalog, fed to the AWS provider's own instance-type code, against Karpenter.

Golden values: the "Resources" (capacity minus overhead) and labels of Karpenter v1.14's
generated instance-types reference (aws/karpenter-provider-aws, website/content/en/v1.14/
reference/instance-types.md, made by hack/docs/instancetypes_gen with an AL2023 EC2NodeClass
without blockDeviceMappings). The provider's resolver, given our DescribeInstanceTypes data,
must produce exactly these; the page lists only non-zero resources.
"""

from __future__ import annotations

from typing import Any

import pytest

from eks_gpu_sharing.catalog import load_catalog
from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.versions import KARPENTER_VERSION

# Allocatable (capacity minus overhead; ephemeral-storage is 17Gi for all) and labels.
_COLUMNS = (
    "cpu",
    "memory",
    "pods",
    "nvidia.com/gpu",
    "vpc.amazonaws.com/efa",
    "instance-gpu-name",
    "instance-gpu-count",
    "instance-gpu-memory",
    "instance-category",
    "arch",
)
# fmt: off
REFERENCE: dict[str, tuple[str, ...]] = {
    "g4dn.xlarge": ("3920m", "14481Mi", "29", "1", "0", "t4", "1", "16384", "g", "amd64"),
    "g4dn.2xlarge": ("7910m", "29636Mi", "29", "1", "0", "t4", "1", "16384", "g", "amd64"),
    "g4dn.12xlarge": ("47810m", "178933Mi", "234", "4", "1", "t4", "4", "16384", "g", "amd64"),
    "g5.xlarge": ("3920m", "14162Mi", "58", "1", "0", "a10g", "1", "22888", "g", "amd64"),
    "g5.2xlarge": ("7910m", "29317Mi", "58", "1", "0", "a10g", "1", "22888", "g", "amd64"),
    "g5.12xlarge": ("47810m", "173400Mi", "737", "4", "1", "a10g", "4", "22888", "g", "amd64"),
    "g5.48xlarge": ("191450m", "723299Mi", "345", "8", "1", "a10g", "8", "22888", "g", "amd64"),
    "g6.xlarge": ("3920m", "14162Mi", "58", "1", "0", "l4", "1", "22888", "g", "amd64"),
    "g6.12xlarge": ("47810m", "178933Mi", "234", "4", "1", "l4", "4", "22888", "g", "amd64"),
    "g6e.xlarge": ("3920m", "29317Mi", "58", "1", "0", "l40s", "1", "45776", "g", "amd64"),
    "g6e.12xlarge": ("47810m", "360157Mi", "292", "4", "1", "l40s", "4", "45776", "g", "amd64"),
    "p4d.24xlarge": ("95690m", "1082712Mi", "737", "8", "4", "a100", "8", "40960", "p", "amd64"),
    "p5.48xlarge": ("191450m", "1938410Mi", "100", "8", "32", "h100", "8", "81920", "p", "amd64"),
    "g5g.xlarge": ("3920m", "6525Mi", "58", "1", "0", "t4g", "1", "16384", "g", "arm64"),
    "g6f.large": ("1930m", "7002Mi", "20", "0", "0", "l4", "0", "2861", "g", "amd64"),
    "gr6f.4xlarge": ("15890m", "118312Mi", "234", "0", "0", "l4", "0", "11444", "gr", "amd64"),
}
# fmt: on
# The reference page's EC2NodeClass (hack/docs/instancetypes_gen): AL2023, no block devices.
_DOCS_NODE_CLASS: dict[str, Any] = {
    "apiVersion": "karpenter.k8s.aws/v1",
    "kind": "EC2NodeClass",
    "metadata": {"name": "docs-gen"},
    "spec": {"amiSelectorTerms": [{"alias": "al2023@latest"}], "role": "docs-gen"},
}


@pytest.fixture(scope="module")
def resolved(harness: Upstream) -> dict[str, dict[str, Any]]:
    types = harness.instance_types(
        load_catalog().document, _DOCS_NODE_CLASS, {"CLUSTER_NAME": "docs-gen"}
    )
    return {t["name"]: t for t in types}


def test_every_catalog_type_resolves(resolved: dict[str, dict[str, Any]]) -> None:
    assert set(resolved) == {t.name for t in load_catalog().instance_types}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_resolved_resources_and_labels_match_karpenters_reference(
    resolved: dict[str, dict[str, Any]], name: str
) -> None:
    expected = dict(zip(_COLUMNS, REFERENCE[name], strict=True))
    allocatable = resolved[name]["allocatable"]
    labels = resolved[name]["labels"]
    got = {key: allocatable.get(key, "0") for key in _COLUMNS[:5]}
    got |= {key: labels[f"karpenter.k8s.aws/{key}"][0] for key in _COLUMNS[5:9]}
    got["arch"] = labels["kubernetes.io/arch"][0]
    assert got == expected
    assert allocatable["ephemeral-storage"] == "17Gi"


def test_catalog_prices_are_karpenters_static_on_demand_prices(
    resolved: dict[str, dict[str, Any]],
) -> None:
    """The catalog's prices (used without Go by estimate) equal what the provider's pricing
    code offers; types the static table lacks have no price and no available offering."""
    for entry in load_catalog().instance_types:
        offerings = resolved[entry.name]["offerings"]
        on_demand = {o["price"] for o in offerings if o["capacityType"] == "on-demand"}
        if entry.on_demand_price_per_hour is None:
            assert not any(o["available"] for o in offerings), entry.name
        else:
            assert on_demand == {entry.on_demand_price_per_hour}, entry.name
            assert all(o["available"] for o in offerings), entry.name


def test_catalog_source_names_region_and_date() -> None:
    source = load_catalog().source
    assert source["pricesRegion"] == "us-east-1"
    assert source["pricesGeneratedAt"].startswith("2026-")
    assert f"karpenter-provider-aws@v{KARPENTER_VERSION}" in source["prices"]
