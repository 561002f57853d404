"""The config writer is the reader's inverse: what it writes reads back to the same setup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eks_gpu_sharing import (
    AmiFamily,
    CapacityType,
    ConsolidationPolicy,
    Disruption,
    ExistingKarpenter,
    GpuPool,
    Monitoring,
    Mps,
    NoSharing,
    PodGuardrails,
    Taint,
    TaintEffect,
    TimeSlicing,
)
from eks_gpu_sharing.config import load_config, load_yaml, parse_config
from eks_gpu_sharing.config_writer import setup_yaml, sharing_document
from eks_gpu_sharing.setup import DevicePluginSettings, GpuSharingSetup, SampleWorkloadSettings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [
    "gpu-sharing.yaml",
    "examples/sharing-modes.yaml",
    "constructs/eks_gpu_sharing/starter.yaml",
]

# Enough examples to cover every field; the fuzz runs of the project raise it.
_EXAMPLES = int(os.environ.get("EKS_GPU_SHARING_FUZZ_EXAMPLES", "60"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_reads_back_equal(name: str) -> None:
    setup = load_config(ROOT / name)
    assert parse_config(load_yaml(setup_yaml(setup))) == setup


def test_defaults_are_left_out_and_modes_named() -> None:
    text = setup_yaml(GpuSharingSetup.for_pools([GpuPool("whole")]), header="a\nb")
    assert text.startswith("# a\n# b\n")
    document = yaml.safe_load(text)
    assert document["pools"] == [{"name": "whole"}]
    assert "kubernetesVersion" not in document and "devicePlugin" not in document
    assert sharing_document(TimeSlicing(memory_gib=8)) == {"mode": "time-slicing", "memoryGib": 8}
    assert sharing_document(NoSharing()) == {"mode": "none"}


def test_a_writer_that_dropped_a_field_would_be_caught() -> None:
    """The round trip compares whole setups: a field left out changes the setup read back."""
    setup = GpuSharingSetup.for_pools([GpuPool("p", gpu_limit=12)])
    document = load_yaml(setup_yaml(setup))
    assert parse_config(document) == setup
    del document["pools"][0]["gpuLimit"]
    assert parse_config(document) != setup


_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
_LABEL_VALUES = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)


@st.composite
def _pools(draw: st.DrawFn) -> list[GpuPool]:
    names = draw(st.lists(_NAMES, min_size=1, max_size=4, unique=True))
    pools = []
    for name in names:
        family = draw(st.sampled_from(list(AmiFamily)))
        sharing = draw(
            st.one_of(
                st.just(NoSharing()),
                st.builds(
                    TimeSlicing,
                    replicas=st.integers(2, 16),
                    rename_by_default=st.booleans(),
                    fail_requests_greater_than_one=st.booleans(),
                ),
                st.builds(Mps, replicas=st.integers(2, 16), rename_by_default=st.booleans()),
                st.builds(TimeSlicing, memory_gib=st.sampled_from([4, 6, 8])),
            )
        )
        capacity = draw(
            st.lists(
                st.sampled_from([CapacityType.ON_DEMAND, CapacityType.SPOT]),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
        pools.append(
            GpuPool(
                name,
                sharing=sharing,
                gpu_names=draw(st.sampled_from([["l4"], ["t4", "l4"], ["a10g", "l4"]])),
                gpu_counts=draw(st.sampled_from([[1], [1, 4]])),
                capacity_types=capacity,
                ami_family=family,
                gpu_limit=draw(st.integers(4, 64)),
                root_volume_gib=draw(st.integers(50, 500)),
                labels=draw(
                    st.dictionaries(
                        st.sampled_from(["example.com/team", "example.com/cost"]),
                        _LABEL_VALUES,
                        max_size=2,
                    )
                ),
                taints=draw(
                    st.lists(
                        st.builds(
                            Taint,
                            key=st.sampled_from(["dedicated", "example.com/gpu"]),
                            value=st.one_of(st.none(), _LABEL_VALUES),
                            effect=st.sampled_from(list(TaintEffect)),
                        ),
                        max_size=2,
                        unique_by=lambda t: (t.key, t.effect),
                    )
                ),
                disruption=Disruption(
                    consolidation_policy=draw(st.sampled_from(list(ConsolidationPolicy))),
                    consolidate_after=draw(st.sampled_from(["5m", "30s", "Never", "1h30m"])),
                    max_disrupted_nodes=draw(st.sampled_from(["1", "10%", "3"])),
                ),
                weight=draw(st.one_of(st.none(), st.integers(1, 100))),
            )
        )
    return pools


@st.composite
def _setups(draw: st.DrawFn) -> GpuSharingSetup:
    pools = draw(_pools())
    cluster = draw(_NAMES)
    al2023 = [p for p in pools if p.ami_family is AmiFamily.AL2023]
    sample = None
    if draw(st.booleans()):
        sample = SampleWorkloadSettings(
            pool=draw(st.sampled_from([p.name for p in pools])),
            replicas=draw(st.one_of(st.none(), st.integers(0, 4))),
        )
    return GpuSharingSetup(
        cluster_name=cluster,
        karpenter=ExistingKarpenter(
            node_role_name=f"KarpenterNodeRole-{cluster}",
            discovery_tag_value=draw(st.sampled_from([cluster, "shared"])),
            version=draw(st.sampled_from(["1.14.1", "1.13.0"])),
            node_overlay_enabled=True,
        ),
        pools=tuple(pools),
        device_plugin=DevicePluginSettings(draw(st.sampled_from(["nvidia-device-plugin", "gpu"]))),
        sample_workload=sample,
        pod_guardrails=draw(st.one_of(st.none(), st.just(PodGuardrails()))),
        monitoring=(
            draw(st.one_of(st.none(), st.builds(Monitoring, service_monitor=st.booleans())))
            if al2023
            else None
        ),
        instance_tags=draw(
            st.dictionaries(st.sampled_from(["team", "cost-center"]), _LABEL_VALUES, max_size=2)
        ),
    )


@settings(
    max_examples=_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_setups())
def test_what_the_writer_writes_reads_back_equal(setup: GpuSharingSetup) -> None:
    assert parse_config(load_yaml(setup_yaml(setup))) == setup
