"""Read the setup (cluster, Karpenter, pools and sharing) from one small YAML file.

The file is the plain-YAML users' counterpart of the CDK props: it builds the same ``GpuPool``
objects, so a wrong value gets the same error as in the construct, prefixed with where in the
file it is. See ``gpu-sharing.yaml`` at the top of the repository for a commented example.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .compat import check_karpenter_version, check_node_overlay_gate
from .errors import ConfigurationError
from .k8s import DEVICE_PLUGIN_NAMESPACE, KarpenterNodeSettings, sample_replicas
from .pool import (
    AmiFamily,
    CapacityType,
    ConsolidationPolicy,
    Disruption,
    GpuPool,
    Taint,
    TaintEffect,
    validate_pools,
)
from .sharing import Mps, NoSharing, Sharing, TimeSlicing
from .versions import KARPENTER_VERSION, KUBERNETES_VERSION


class ConfigFileError(ConfigurationError):
    """A value in the config file breaks a rule; the message says where in the file."""

    def __init__(self, *, location: str, field: str, value: Any, rule: str, fix: str) -> None:
        super().__init__(field=f"{location}: {field}", value=value, rule=rule, fix=fix)


@dataclass(frozen=True)
class KarpenterSettings:
    """What the manifests need from the cluster's Karpenter installation."""

    node_role_name: str
    discovery_tag_value: str
    version: str = KARPENTER_VERSION
    node_overlay_enabled: bool = False


@dataclass(frozen=True)
class SampleWorkloadSettings:
    """Which pool runs the sample workload, and how many pods."""

    pool: str
    replicas: int | None = None


@dataclass(frozen=True)
class GpuSharingConfig:
    """The whole described setup."""

    cluster_name: str
    karpenter: KarpenterSettings
    pools: tuple[GpuPool, ...]
    device_plugin_namespace: str = DEVICE_PLUGIN_NAMESPACE
    sample_workload: SampleWorkloadSettings | None = None
    kubernetes_version: str = KUBERNETES_VERSION


def load_config(path: str | Path) -> GpuSharingConfig:
    """Load and validate a config file; raise ``ConfigurationError`` naming the bad value."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(
            field="config file",
            value=str(path),
            rule="the file does not exist",
            fix="pass --config with the path of your gpu-sharing.yaml",
        ) from None
    except yaml.YAMLError as error:
        raise ConfigurationError(
            field="config file",
            value=str(path),
            rule=f"is not valid YAML ({error})",
            fix="fix the YAML syntax at the position shown",
        ) from None
    return parse_config(document, source=str(path))


def parse_config(document: Any, *, source: str = "config") -> GpuSharingConfig:
    """Build a ``GpuSharingConfig`` from an already-parsed YAML document."""
    root = _Section(document, source)
    root.only(
        "clusterName",
        "kubernetesVersion",
        "karpenter",
        "pools",
        "devicePlugin",
        "sampleWorkload",
        required=("clusterName", "karpenter", "pools"),
    )
    cluster_name = root.string("clusterName")
    karpenter_section = root.section("karpenter")
    karpenter_section.only(
        "nodeRoleName",
        "discoveryTagValue",
        "version",
        "nodeOverlayEnabled",
        required=("nodeRoleName",),
    )
    karpenter = KarpenterSettings(
        node_role_name=karpenter_section.string("nodeRoleName"),
        discovery_tag_value=karpenter_section.string("discoveryTagValue", default=cluster_name),
        version=karpenter_section.string("version", default=KARPENTER_VERSION),
        node_overlay_enabled=karpenter_section.boolean("nodeOverlayEnabled", default=False),
    )
    with karpenter_section.here():  # the same rules as the charts, checked up front
        KarpenterNodeSettings(
            node_role=karpenter.node_role_name,
            discovery_tag_value=karpenter.discovery_tag_value,
        )
    pools = tuple(_parse_pool(item) for item in root.items("pools"))
    with root.at("pools"):
        pools = validate_pools(pools)
    kubernetes_version = root.string("kubernetesVersion", default=KUBERNETES_VERSION)
    _check_karpenter(karpenter, pools, kubernetes_version, root)

    device_plugin = root.section("devicePlugin", default={})
    device_plugin.only("namespace")
    sample = None
    if root.has("sampleWorkload"):
        sample_section = root.section("sampleWorkload")
        sample_section.only("pool", "replicas", required=("pool",))
        sample = SampleWorkloadSettings(
            pool=sample_section.string("pool"),
            replicas=sample_section.integer("replicas", default=None),
        )
        by_name = {p.name: p for p in pools}
        if sample.pool not in by_name:
            raise sample_section.error(
                "pool",
                sample.pool,
                "names no pool of this file",
                f"use one of {sorted(by_name)}",
            )
        with sample_section.here():  # checked now, before anything is rendered
            sample_replicas(by_name[sample.pool], sample.replicas)
    return GpuSharingConfig(
        cluster_name=cluster_name,
        karpenter=karpenter,
        pools=pools,
        device_plugin_namespace=device_plugin.string("namespace", default=DEVICE_PLUGIN_NAMESPACE),
        sample_workload=sample,
        kubernetes_version=kubernetes_version,
    )


def _check_karpenter(
    karpenter: KarpenterSettings,
    pools: tuple[GpuPool, ...],
    kubernetes_version: str,
    root: _Section,
) -> None:
    needs_overlay = any(not isinstance(p.sharing, NoSharing) for p in pools)
    # The same rules and messages as ExistingKarpenter, located in the file.
    with root.here():
        check_karpenter_version(
            karpenter.version,
            kubernetes_version=kubernetes_version,
            needs_node_overlay=needs_overlay,
            version_field="karpenter.version",
            kubernetes_version_field="kubernetesVersion",
        )
        if needs_overlay:
            check_node_overlay_gate(
                karpenter.node_overlay_enabled,
                karpenter_version=karpenter.version,
                field="karpenter.nodeOverlayEnabled",
                then="set nodeOverlayEnabled: true",
            )


_POOL_KEYS = {
    "name",
    "sharing",
    "gpuNames",
    "instanceFamilies",
    "instanceCategories",
    "instanceSizes",
    "gpuCounts",
    "capacityTypes",
    "architectures",
    "amiFamily",
    "gpuLimit",
    "rootVolumeGiB",
    "labels",
    "taints",
    "disruption",
    "weight",
}


def _parse_pool(section: _Section) -> GpuPool:
    section.only(*sorted(_POOL_KEYS), required=("name",))
    kwargs: dict[str, Any] = {}
    for key, attribute in (
        ("gpuNames", "gpu_names"),
        ("instanceFamilies", "instance_families"),
        ("instanceCategories", "instance_categories"),
        ("instanceSizes", "instance_sizes"),
        ("architectures", "architectures"),
        ("gpuCounts", "gpu_counts"),
    ):
        if section.has(key):
            kwargs[attribute] = section.list(key)
    if section.has("capacityTypes"):
        kwargs["capacity_types"] = [
            section.enum("capacityTypes", CapacityType, value)
            for value in section.list("capacityTypes")
        ]
    if section.has("amiFamily"):
        kwargs["ami_family"] = section.enum("amiFamily", AmiFamily, section.get("amiFamily"))
    for key, attribute in (
        ("gpuLimit", "gpu_limit"),
        ("rootVolumeGiB", "root_volume_gib"),
        ("weight", "weight"),
    ):
        if section.has(key):
            kwargs[attribute] = section.integer(key)
    if section.has("labels"):
        kwargs["labels"] = section.section("labels").raw
    if section.has("taints"):
        kwargs["taints"] = [_parse_taint(item) for item in section.items("taints")]
    if section.has("disruption"):
        kwargs["disruption"] = _parse_disruption(section.section("disruption"))
    if section.has("sharing"):
        kwargs["sharing"] = _parse_sharing(section.section("sharing"))
    with section.here():
        return GpuPool(section.string("name"), **kwargs)


def _parse_sharing(section: _Section) -> Sharing:
    section.only(
        "mode", "replicas", "renameByDefault", "failRequestsGreaterThanOne", required=("mode",)
    )
    mode = section.string("mode")
    builders: dict[str, Callable[[], Sharing]] = {
        "time-slicing": lambda: TimeSlicing(
            replicas=section.integer("replicas"),
            rename_by_default=section.boolean("renameByDefault", default=False),
            fail_requests_greater_than_one=section.boolean(
                "failRequestsGreaterThanOne", default=True
            ),
        ),
        "mps": lambda: Mps(
            replicas=section.integer("replicas"),
            rename_by_default=section.boolean("renameByDefault", default=False),
        ),
        "none": NoSharing,
    }
    if mode not in builders:
        raise section.error("mode", mode, "unknown sharing mode", "use time-slicing, mps or none")
    if mode == "none":
        section.only("mode")
    if mode == "mps":  # the device plugin always fails multi-share requests under MPS
        section.only("mode", "replicas", "renameByDefault")
    with section.here():
        return builders[mode]()


def _parse_taint(section: _Section) -> Taint:
    section.only("key", "value", "effect", required=("key",))
    effect = section.get("effect", "NoSchedule")
    with section.here():
        return Taint(
            section.string("key"),
            section.string("value", default=None),
            section.enum("effect", TaintEffect, effect),
        )


def _parse_disruption(section: _Section) -> Disruption:
    section.only("consolidationPolicy", "consolidateAfter", "expireAfter", "maxDisruptedNodes")
    kwargs: dict[str, Any] = {}
    if section.has("consolidationPolicy"):
        kwargs["consolidation_policy"] = section.enum(
            "consolidationPolicy", ConsolidationPolicy, section.get("consolidationPolicy")
        )
    for key, attribute in (
        ("consolidateAfter", "consolidate_after"),
        ("expireAfter", "expire_after"),
        ("maxDisruptedNodes", "max_disrupted_nodes"),
    ):
        if section.has(key):
            kwargs[attribute] = str(section.get(key))
    with section.here():
        return Disruption(**kwargs)


_MISSING = object()


class _Section:
    """A mapping in the file plus its location, with typed getters that raise ConfigFileError."""

    def __init__(self, raw: Any, location: str) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigFileError(
                location=location,
                field="(section)",
                value=raw,
                rule="must be a mapping of keys to values",
                fix="check the indentation",
            )
        self.raw = raw
        self.location = location

    def error(self, key: str, value: Any, rule: str, fix: str) -> ConfigFileError:
        return ConfigFileError(location=self.location, field=key, value=value, rule=rule, fix=fix)

    def only(self, *allowed: str, required: tuple[str, ...] = ()) -> None:
        for key in self.raw:
            if key not in allowed:
                raise self.error(
                    key, self.raw[key], "unknown key", f"use one of {', '.join(sorted(allowed))}"
                )
        for key in required:
            if key not in self.raw:
                raise self.error(key, None, "is required", f"add {key}:")

    def has(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, default: Any = _MISSING) -> Any:
        if key in self.raw:
            return self.raw[key]
        if default is _MISSING:
            raise self.error(key, None, "is required", f"add {key}:")
        return default

    def string(self, key: str, default: Any = _MISSING) -> Any:
        value = self.get(key, default)
        if value is not default and not isinstance(value, str):
            raise self.error(key, value, "must be a string", f'quote it: {key}: "{value}"')
        return value

    def integer(self, key: str, default: Any = _MISSING) -> Any:
        value = self.get(key, default)
        if value is not default and (not isinstance(value, int) or isinstance(value, bool)):
            raise self.error(key, value, "must be a whole number", f"e.g. {key}: 4")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> Any:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, value, "must be true or false", f"e.g. {key}: true")
        return value

    def list(self, key: str) -> list[Any]:
        value = self.get(key)
        if not isinstance(value, list):
            raise self.error(key, value, "must be a list", f"e.g. {key}: [{value}]")
        return value

    def enum(self, key: str, enum_type: Any, value: Any) -> Any:
        for member in enum_type:
            if member.value == value:
                return member
        raise self.error(
            key, value, "unknown value", f"use one of {', '.join(m.value for m in enum_type)}"
        )

    def section(self, key: str, default: Any = _MISSING) -> _Section:
        return _Section(self.get(key, default), f"{self.location}.{key}")

    def items(self, key: str) -> list[_Section]:
        return [
            _Section(item, f"{self.location}.{key}[{i}]") for i, item in enumerate(self.list(key))
        ]

    def at(self, key: str) -> _Located:
        return _Located(f"{self.location}.{key}")

    def here(self) -> _Located:
        return _Located(self.location)


class _Located:
    """Re-raise a model's ConfigurationError with the file location in front of its field."""

    def __init__(self, location: str) -> None:
        self.location = location

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, _tb: object) -> None:
        if isinstance(error, ConfigurationError) and not isinstance(error, ConfigFileError):
            raise ConfigFileError(
                location=self.location,
                field=error.field,
                value=error.value,
                rule=error.rule,
                fix=error.fix,
            ) from error
