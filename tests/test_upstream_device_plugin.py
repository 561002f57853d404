"""The NVIDIA device plugin's own config loader (api/config/v1 NewConfig) reads every profile.

The module proxy refuses github.com/NVIDIA/k8s-device-plugin v0.20.0 (the version deployed), so
these run v0.19.3, the nearest release it serves. Between the two, api/config/v1 changed only
for MPS: 0.19.3 always forces failRequestsGreaterThanOne on, 0.20.0 does so unless a config sets
it to false. This library never sets it for MPS, so both read our configs the same way.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from eks_gpu_sharing import GpuPool, Mps, NoSharing, TimeSlicing
from eks_gpu_sharing.k8s import DEVICE_PLUGIN_CONFIG_MAP, device_plugin_config_data
from eks_gpu_sharing.plan import plan_pool
from eks_gpu_sharing.sharing import GPU_RESOURCE
from eks_gpu_sharing.upstream import Upstream
from tests.pools import ALL_POOLS
from tests.upstream_checks import manifest_objects


def parsed(harness: Upstream, data: dict[str, str]) -> dict[str, dict[str, Any]]:
    results = harness.parse_device_plugin_configs(data)
    assert {key: r.get("error") for key, r in results.items()} == dict.fromkeys(data)
    return {key: r["config"] for key, r in results.items()}


def sharing_of(config: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for mode in ("timeSlicing", "mps"):
        section = (config.get("sharing") or {}).get(mode) or {}
        if section.get("resources"):
            return mode, section
    return None


def assert_profile(config: dict[str, Any], sharing: Any) -> None:
    assert config["flags"]["migStrategy"] == "none"
    found = sharing_of(config)
    if isinstance(sharing, NoSharing):
        assert found is None
        return
    assert found is not None
    mode, section = found
    assert mode == ("mps" if isinstance(sharing, Mps) else "timeSlicing")
    # The plugin's JSON omits false flags (omitempty).
    assert section.get("renameByDefault", False) is sharing.rename_by_default
    assert (
        section.get("failRequestsGreaterThanOne", False) is sharing.fail_requests_greater_than_one
    )
    assert [(r["name"], r["replicas"]) for r in section["resources"]] == [
        (GPU_RESOURCE, sharing.replicas)
    ]


def test_every_profile_of_every_pool_loads_as_its_sharing(harness: Upstream) -> None:
    configs = parsed(harness, device_plugin_config_data(ALL_POOLS))
    served = [p for p in ALL_POOLS if p.uses_device_plugin_daemonset]
    # The NodePools of a pool split by GPU count share one key.
    assert set(configs) == {"exclusive"} | {
        node_pool.device_plugin_config_key for p in served for node_pool in plan_pool(p).node_pools
    }
    assert_profile(configs["exclusive"], NoSharing())
    for pool in served:
        for node_pool in plan_pool(pool).node_pools:
            assert_profile(configs[node_pool.device_plugin_config_key], pool.sharing)


def test_the_committed_config_map_loads(harness: Upstream) -> None:
    (config_map,) = [
        o
        for o in manifest_objects()
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == DEVICE_PLUGIN_CONFIG_MAP
    ]
    configs = parsed(harness, config_map["data"])
    assert sharing_of(configs["pool-inference"])[1]["resources"][0]["replicas"] == 4


def test_the_loader_refuses_what_the_plugin_refuses(harness: Upstream) -> None:
    config = yaml.safe_load(
        device_plugin_config_data([GpuPool("a", sharing=TimeSlicing(replicas=2))])["pool-a"]
    )
    config["sharing"]["timeSlicing"]["resources"][0]["replicas"] = 1
    (result,) = harness.parse_device_plugin_configs({"bad": yaml.safe_dump(config)}).values()
    assert "number of replicas must be >= 2" in result["error"]


@settings(max_examples=25)
@given(
    replicas=st.integers(min_value=2, max_value=48),
    rename=st.booleans(),
    fail=st.booleans(),
    mps=st.booleans(),
)
def test_any_valid_sharing_round_trips_through_the_plugin(
    harness: Upstream, replicas: int, rename: bool, fail: bool, mps: bool
) -> None:
    sharing: Any = (
        Mps(replicas=replicas, rename_by_default=rename)
        if mps
        else TimeSlicing(
            replicas=replicas, rename_by_default=rename, fail_requests_greater_than_one=fail
        )
    )
    pool = GpuPool("p", sharing=sharing)
    configs = parsed(harness, device_plugin_config_data([pool]))
    assert_profile(configs[plan_pool(pool).only().device_plugin_config_key], sharing)
