"""The sharing-mode seam: a new mode is one class behind ``SharingMode`` plus its registration.

A toy mode defined here, and nowhere in the package, goes through every consumer: the config
file's reader (by its ``mode`` name), the pool's checks (its own ``check_pool``), the plan
(slices per GPU, overlays, labels), the cdk8s charts, the device plugin ConfigMap (parsed by the
plugin's own loader), Bottlerocket user data, and the config writer. No other file knows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from eks_gpu_sharing import ConfigurationError, GpuPool
from eks_gpu_sharing.catalog import GpuModel
from eks_gpu_sharing.config import parse_config
from eks_gpu_sharing.config_writer import sharing_document
from eks_gpu_sharing.plan import plan_pool
from eks_gpu_sharing.pool_options import AmiFamily
from eks_gpu_sharing.render import rendered_files
from eks_gpu_sharing.sharing import (
    GPU_RESOURCE,
    SHARING_MODES,
    Mig,
    Mps,
    NoSharing,
    PoolFacts,
    SharingMode,
    TimeSlicing,
    register_mode,
    unregister_mode,
)
from eks_gpu_sharing.upstream import Upstream


@dataclass(frozen=True)
class Halves(SharingMode):
    """Toy mode: two time-shares per GPU, on L4 GPUs only (a rule of its own)."""

    yaml_name = "toy-halves"
    estimate_name = "halves"
    estimate_code = "half"

    note: str = "toy"

    @property
    def replicas(self) -> int:
        return 2

    @property
    def fail_requests_greater_than_one(self) -> bool:
        return True

    @property
    def profile_name(self) -> str:
        return "toy-halves"

    def slices_for(self, model: GpuModel) -> int:
        return 2

    def check_pool(self, pool: PoolFacts) -> None:
        others = sorted({m.name for m in pool.gpu_models} - {"l4"})
        if others:
            pool.report("gpu_names", others, "the toy mode runs on L4 only", "use gpu_names [l4]")

    def device_plugin_config(self) -> dict[str, Any]:
        return {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "timeSlicing": {
                    "failRequestsGreaterThanOne": True,
                    "resources": [{"name": GPU_RESOURCE, "replicas": 2}],
                }
            },
        }

    def bottlerocket_settings(self, model: GpuModel | None = None) -> str:
        return (
            "[settings.kubelet-device-plugins.nvidia]\n"
            'device-sharing-strategy = "time-slicing"\n\n'
            "[settings.kubelet-device-plugins.nvidia.time-slicing]\n"
            "replicas = 2\nrename-by-default = false\nfail-requests-greater-than-one = true\n"
        )


@pytest.fixture
def toy_mode() -> Iterator[type[Halves]]:
    register_mode(Halves)
    try:
        yield Halves
    finally:
        unregister_mode(Halves)


CONFIG = """
clusterName: toy
karpenter: {nodeRoleName: KarpenterNodeRole-toy, nodeOverlayEnabled: true}
pools:
  - name: halves
    gpuNames: [l4]
    sharing: {mode: toy-halves, note: registered}
  - name: rocket
    gpuNames: [l4]
    amiFamily: Bottlerocket
    sharing: {mode: toy-halves}
"""


def test_builtin_modes_are_registered_by_their_yaml_names() -> None:
    assert {name: cls for name, cls in SHARING_MODES.items()} == {
        "time-slicing": TimeSlicing,
        "mps": Mps,
        "mig": Mig,
        "none": NoSharing,
    }


def test_a_registered_mode_renders_end_to_end(toy_mode: type[Halves], harness: Upstream) -> None:
    config = parse_config(yaml.safe_load(CONFIG))
    halves, rocket = config.pools
    assert halves.sharing == Halves(note="registered")
    plan = plan_pool(halves).only()
    assert (plan.slices_per_gpu, plan.slice_limit) == (2, 2 * halves.gpu_limit)
    assert plan.overlay_capacities() == {1: {GPU_RESOURCE: "2"}}

    files = rendered_files(config)
    objects = [
        document
        for name, content in files.items()
        if name.endswith(".k8s.yaml")
        for document in yaml.safe_load_all(content)
        if document
    ]
    overlays = {
        o["metadata"]["name"]: o["spec"]["capacity"] for o in objects if o["kind"] == "NodeOverlay"
    }
    assert overlays == {"halves-gpu-1": {GPU_RESOURCE: "2"}, "rocket-gpu-1": {GPU_RESOURCE: "2"}}
    node_classes = {
        o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "EC2NodeClass"
    }
    assert node_classes["rocket"]["userData"] == Halves().bottlerocket_settings()
    assert "userData" not in node_classes["halves"]
    labels = {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
        for o in objects
        if o["kind"] == "NodePool"
    }
    assert labels["halves"]["eks-gpu-sharing.io/sharing"] == "toy-halves"

    (config_map,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert set(config_map["data"]) == {"exclusive", "pool-halves"}  # Bottlerocket: no key
    results = harness.parse_device_plugin_configs(config_map["data"])
    assert results["pool-halves"].get("error") is None
    (parsed,) = results["pool-halves"]["config"]["sharing"]["timeSlicing"]["resources"]
    assert (parsed["name"], parsed["replicas"]) == (GPU_RESOURCE, 2)

    assert sharing_document(halves.sharing) == {"mode": "toy-halves", "note": "registered"}
    assert sharing_document(rocket.sharing) == {"mode": "toy-halves"}


def test_a_registered_mode_checks_its_own_rules(toy_mode: type[Halves]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        GpuPool("t4s", gpu_names=["t4"], sharing=Halves())
    (problem,) = caught.value.problems
    assert problem.field == "GpuPool('t4s').gpu_names"
    assert "the toy mode runs on L4 only" in problem.rule


def test_an_unregistered_mode_is_unknown_to_the_config_file() -> None:
    with pytest.raises(ConfigurationError, match="unknown or missing sharing mode"):
        parse_config(yaml.safe_load(CONFIG))


def test_a_mode_name_cannot_be_registered_twice(toy_mode: type[Halves]) -> None:
    @dataclass(frozen=True)
    class Impostor(Halves):
        pass

    with pytest.raises(ValueError, match="registered twice"):
        register_mode(Impostor)
    assert SHARING_MODES["toy-halves"] is Halves


def test_the_bottlerocket_minimum_is_the_modes_own_fact() -> None:
    # The Bottlerocket minimum is the mode's own fact, checked by the pool without knowing it.
    with pytest.raises(ConfigurationError, match=r"MPS on Bottlerocket works from v1\.60\.0"):
        GpuPool(
            "old",
            gpu_names=["l4"],
            ami_family=AmiFamily.BOTTLEROCKET,
            ami_version="v1.50.0",
            sharing=Mps(replicas=2),
        )
