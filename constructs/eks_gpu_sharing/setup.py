"""The one validated description of a setup, which every output is built from.

``GpuSharingSetup`` holds the cluster name, the Karpenter installation's settings, the pools,
the device plugin's namespace, the sample workload, the admission guardrails, monitoring, the
Kubernetes version and the instance tags. It is plain data: the config file's reader
(:mod:`.config`) builds it from YAML, the CDK constructs from their keyword props
(:class:`GpuSharingOptions`), and the YAML renderer, ``simulate``, ``estimate`` and the
constructs all render from it. Every rule that combines fields runs once, here, when it is
built: the renderers trust it. :mod:`.config_writer` writes it back as YAML.

Errors name the fields in the words of what the user wrote: ``kubernetesVersion`` in the file,
``GpuSharing.kubernetes_version`` in a CDK app (``owner``, see :mod:`.vocabulary`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import InitVar, dataclass, field
from typing import TypedDict, Unpack, cast

from .aws_names import is_cdk_token
from .backends import DEVICE_PLUGIN_NAMESPACE
from .dra import consumable_shares
from .errors import GPU_POOL_EXAMPLE, ConfigurationError, Problems, require_instance
from .guardrails import PodGuardrails
from .instance_tags import check_instance_tags
from .k8s_namespaces import SAMPLE_WORKLOAD_NAMESPACE, foreign_namespace_error
from .karpenter_installation import ExistingKarpenter, IKarpenter
from .kubernetes_names import dns_label_error, eks_cluster_name_error, require_name
from .monitoring.exporter import check_monitored_pools
from .monitoring.settings import MONITORING_NAMESPACE, Monitoring
from .plan import plan_pool, sample_replicas
from .pool import GpuPool, check_ami_support
from .versions import (
    DRA_KUBERNETES_MINIMUM,
    KARPENTER_VERSION,
    KUBERNETES_VERSION,
    kubernetes_minor,
)
from .vocabulary import Yaml, speaking, vocabulary, yaml_key

__all__ = [
    "DevicePluginSettings",
    "GpuSharingOptions",
    "GpuSharingSetup",
    "SampleWorkloadSettings",
]


@dataclass(frozen=True)
class DevicePluginSettings:
    """Where the NVIDIA device plugin runs.

    :param namespace: Its namespace (created by the manifests). Default: ``nvidia-device-plugin``.
    """

    namespace: str = DEVICE_PLUGIN_NAMESPACE

    def __post_init__(self) -> None:
        if reason := dns_label_error(self.namespace):
            raise ConfigurationError(
                field=vocabulary().field("DevicePluginSettings", "namespace"),
                value=self.namespace,
                rule=reason,
                fix="use e.g. nvidia-device-plugin",
            )


@dataclass(frozen=True)
class SampleWorkloadSettings:
    """Which pool runs the sample workload, and how many pods.

    :param pool: A pool of this setup.
    :param replicas: Pods (one slice each). Default: one node's worth of slices.
    """

    pool: str
    replicas: int | None = None


class GpuSharingOptions(TypedDict, total=False):
    """The keyword props ``GpuSharing`` and ``GpuSharingCluster`` share (declared once, as
    aws-eks's ``ClusterProps`` extends ``ClusterOptions``); each becomes the field of the same
    name of :class:`GpuSharingSetup`.

    * ``pools`` (required): the GPU pools, at least one.
    * ``device_plugin_namespace``: default ``nvidia-device-plugin``.
    * ``instance_tags``: extra EC2 tags on the GPU instances and volumes. Default: none.
    * ``pod_guardrails``: ``PodGuardrails(...)`` deploys a ValidatingAdmissionPolicy. Default:
      None.
    * ``monitoring``: ``Monitoring(...)`` installs the DCGM exporter and the dashboard.
      Default: None.
    """

    pools: Sequence[GpuPool]
    device_plugin_namespace: str
    instance_tags: Mapping[str, str] | None
    pod_guardrails: PodGuardrails | None
    monitoring: Monitoring | None


def option_names(options: type) -> frozenset[str]:
    """The keys of an options ``TypedDict`` (its own and inherited)."""
    return frozenset(options.__required_keys__ | options.__optional_keys__)  # type: ignore[attr-defined]


def setup_options(props: Mapping[str, object]) -> GpuSharingOptions:
    """The props among ``props`` that describe the setup (the rest are a construct's own)."""
    known = option_names(GpuSharingOptions)
    return cast(GpuSharingOptions, {k: v for k, v in props.items() if k in known})


def check_option_names(owner: str, given: Mapping[str, object], options: type) -> None:
    """A keyword the construct does not take is an error naming it (with the closest name),
    as Python's own ``TypeError`` would be for an explicit parameter."""
    known = option_names(options)
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            raise ConfigurationError(
                field=f"{owner}.{name}",
                value=given[name],
                rule=f"{owner} takes no such prop",
                fix=f"did you mean {close[0]}?" if close else f"use {', '.join(sorted(known))}",
            )


@dataclass(frozen=True)
class GpuSharingSetup:
    """The whole described setup, validated when built (see the module docstring).

    :param cluster_name: The EKS cluster's name.
    :param karpenter: The Karpenter installation's settings: ``ExistingKarpenter(...)``, or in a
        CDK app the ``Karpenter`` construct (both are ``IKarpenter``).
    :param pools: The GPU pools, at least one, names unique.
    :param device_plugin: Default: ``DevicePluginSettings()``.
    :param sample_workload: Default: None (no sample).
    :param pod_guardrails: Default: None.
    :param monitoring: Default: None.
    :param kubernetes_version: Default: ``versions.KUBERNETES_VERSION``.
    :param instance_tags: Default: none.
    """

    cluster_name: str
    karpenter: IKarpenter
    pools: tuple[GpuPool, ...]
    device_plugin: DevicePluginSettings = field(default_factory=DevicePluginSettings)
    sample_workload: SampleWorkloadSettings | None = None
    pod_guardrails: PodGuardrails | None = None
    monitoring: Monitoring | None = None
    kubernetes_version: str = KUBERNETES_VERSION
    instance_tags: Mapping[str, str] = field(default_factory=dict)

    #: Who the errors name as the fields' owner: ``GpuSharing`` for its props. Not a field.
    error_owner: InitVar[str] = "GpuSharingSetup"

    def __post_init__(self, error_owner: str) -> None:
        _SetupCheck(self, owner=error_owner).run()

    @classmethod
    def from_options(
        cls,
        *,
        error_owner: str,
        cluster_name: str,
        karpenter: IKarpenter,
        kubernetes_version: str = KUBERNETES_VERSION,
        **options: Unpack[GpuSharingOptions],
    ) -> GpuSharingSetup:
        """The setup a construct's props describe, its errors named ``<error_owner>.<prop>``."""
        if "pools" not in options:
            raise ConfigurationError(
                field=f"{error_owner}.pools",
                value=None,
                rule="is required",
                fix=GPU_POOL_EXAMPLE,
            )
        namespace = options.get("device_plugin_namespace", DEVICE_PLUGIN_NAMESPACE)
        require_name(
            f"{error_owner}.device_plugin_namespace",
            namespace,
            fix="use e.g. 'nvidia-device-plugin'",
        )
        return cls(
            cluster_name=cluster_name,
            karpenter=karpenter,
            pools=options["pools"],  # type: ignore[arg-type]  # checked as a sequence inside
            device_plugin=DevicePluginSettings(namespace),
            pod_guardrails=options.get("pod_guardrails"),
            monitoring=options.get("monitoring"),
            kubernetes_version=kubernetes_version,
            instance_tags=options.get("instance_tags") or {},
            error_owner=error_owner,
        )

    @classmethod
    def for_pools(
        cls, pools: Sequence[GpuPool], *, cluster_name: str = "simulated"
    ) -> GpuSharingSetup:
        """``pools`` alone, on a Karpenter of the library's version with the NodeOverlay gate
        on (and the DRA gate, for DRA pools), the node role named as the official install
        names it: what ``simulate`` and ``estimate`` plan on, and what ``estimate
        --write-config`` starts from."""
        karpenter = ExistingKarpenter(
            node_role_name=f"KarpenterNodeRole-{cluster_name}",
            discovery_tag_value=cluster_name,
            version=KARPENTER_VERSION,
            node_overlay_enabled=True,
            dra_enabled=any(isinstance(p, GpuPool) and p.uses_dra for p in pools),
        )
        return cls(cluster_name=cluster_name, karpenter=karpenter, pools=tuple(pools))

    def options(self) -> GpuSharingOptions:
        """This setup's :class:`GpuSharingOptions`, for a construct's props
        (``GpuSharingCluster(..., **setup.options())``)."""
        return GpuSharingOptions(
            pools=self.pools,
            device_plugin_namespace=self.device_plugin_namespace,
            instance_tags=self.instance_tags,
            pod_guardrails=self.pod_guardrails,
            monitoring=self.monitoring,
        )

    @property
    def device_plugin_namespace(self) -> str:
        """``device_plugin.namespace``."""
        return self.device_plugin.namespace

    @property
    def needs_node_overlay(self) -> bool:
        """Whether any pool shares GPUs through NodeOverlays (Karpenter's gate must be on)."""
        return _needs_node_overlay(self.pools)

    @property
    def dra_pools(self) -> tuple[GpuPool, ...]:
        """The pools whose GPUs the NVIDIA DRA driver shares (``Backend.DRA``)."""
        return tuple(pool for pool in self.pools if pool.uses_dra)

    @property
    def dra_consumable_shares(self) -> str | None:
        """The NVIDIA DRA driver's one ``consumableShares`` for the DRA pools (checked equal),
        or None: whole GPUs, or no DRA pool."""
        pools = self.dra_pools
        return consumable_shares(pools[0].sharing) if pools else None

    def pool(self, name: str) -> GpuPool:
        """The pool named ``name`` (KeyError if there is none)."""
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise KeyError(name)


def _needs_node_overlay(pools: Sequence[GpuPool]) -> bool:
    return any(p.sharing.shares_gpus and p.sharing_backend.uses_node_overlays for p in pools)


class _SetupCheck:
    """Every rule that combines a setup's fields, all problems reported together."""

    def __init__(self, setup: GpuSharingSetup, *, owner: str) -> None:
        self.setup = setup
        self.owner = owner
        self.problems = Problems()
        self.words = vocabulary()

    def field(self, attribute: str) -> str:
        return self.words.field(self.owner, attribute)

    @contextmanager
    def collect(self, section: str | None = None) -> Iterator[None]:
        """Record a ConfigurationError raised inside as a problem; in the config file's words,
        nested under ``section`` (its YAML key or path)."""
        words = self.words
        if section is not None and isinstance(words, Yaml):
            words = Yaml(".".join(p for p in (words.location, section) if p))
        try:
            with speaking(words):
                yield
        except ConfigurationError as error:
            self.problems.extend(error)

    def run(self) -> None:
        setup = self.setup
        self._cluster_name()
        pools = self._pools()
        if self.problems:
            self.problems.raise_if_any()
        object.__setattr__(setup, "pools", pools)
        with self.collect():
            tags = check_instance_tags(setup.instance_tags, field=self.field("instance_tags"))
            object.__setattr__(setup, "instance_tags", tags)
        version = setup.kubernetes_version
        with self.collect("karpenter"):
            require_instance(
                setup.karpenter,
                IKarpenter,
                field=self.field("karpenter"),
                fix="pass the Karpenter construct or ExistingKarpenter(...)",
            )
            setup.karpenter.check_supports(
                needs_node_overlay=_needs_node_overlay(pools),
                kubernetes_version=version,
                kubernetes_version_field=self.field("kubernetes_version"),
                needs_dra=any(p.uses_dra for p in pools),
            )
        self._dra(pools, version)
        for index, pool in enumerate(pools):
            with self.collect(f"pools[{index}]"):
                check_ami_support(
                    pool, version, kubernetes_version_field=self.field("kubernetes_version")
                )
        self._sample(pools)
        self._generated_names(pools)
        self._namespaces()
        for name, kind in (("monitoring", Monitoring), ("pod_guardrails", PodGuardrails)):
            value = getattr(setup, name)
            if value is not None:
                with self.collect():
                    require_instance(
                        value, kind, field=self.field(name), fix=f"use {kind.__name__}()"
                    )
        if setup.monitoring is not None:
            with self.collect():
                check_monitored_pools(pools, field=self.field("monitoring"))
        self.problems.raise_if_any()

    def _dra(self, pools: tuple[GpuPool, ...], version: str) -> None:
        """DRA pools need Kubernetes 1.36+ (consumable capacity on by default) and one sharing:
        the NVIDIA DRA driver has one ``consumableShares`` per install, for every GPU it
        manages (in an integer mode even a whole-GPU claim would take one share)."""
        dra = [(index, pool) for index, pool in enumerate(pools) if pool.uses_dra]
        if not dra:
            return
        if isinstance(version, str) and kubernetes_minor(version) < kubernetes_minor(
            DRA_KUBERNETES_MINIMUM
        ):
            self.problems.add(
                field=self.field("kubernetes_version"),
                value=version,
                rule=f"DRA pools share GPUs through consumable capacity, on by default from "
                f"Kubernetes {DRA_KUBERNETES_MINIMUM}",
                fix=f"use Kubernetes {DRA_KUBERNETES_MINIMUM} or later, or the device-plugin "
                "backend",
            )
        first_index, first = dra[0]
        shares = consumable_shares(first.sharing)
        for index, pool in dra[1:]:
            if consumable_shares(pool.sharing) != shares:
                self.problems.add(
                    field=self.field(f"pools[{index}].sharing"),
                    value=pool.sharing,
                    rule=f"every DRA pool shares GPUs as the NVIDIA DRA driver's one "
                    f"consumableShares setting says; pool {first.name} (pools[{first_index}]) "
                    f"sets {shares or 'whole GPUs'}, this one "
                    f"{consumable_shares(pool.sharing) or 'whole GPUs'}",
                    fix="give the DRA pools the same sharing, or move this pool to the "
                    "device-plugin backend",
                )

    def _cluster_name(self) -> None:
        name = self.setup.cluster_name
        reason = eks_cluster_name_error(name) if isinstance(name, str) else "must be text"
        if reason and not _is_token(name):
            self.problems.add(
                field=self.field("cluster_name"),
                value=name,
                rule=reason,
                fix="use the name EKS shows for it",
            )

    def _pools(self) -> tuple[GpuPool, ...]:
        pools = self.setup.pools
        where = self.field("pools")
        if isinstance(pools, str | bytes | Mapping) or not isinstance(pools, Sequence):
            self.problems.add(
                field=where, value=pools, rule="must be a list of GpuPool", fix=GPU_POOL_EXAMPLE
            )
            return ()
        if not pools:
            self.problems.add(
                field=where, value=[], rule="at least one GpuPool is needed", fix=GPU_POOL_EXAMPLE
            )
            return ()
        seen: dict[str, int] = {}
        for index, pool in enumerate(pools):
            if not isinstance(pool, GpuPool):
                with self.collect():
                    require_instance(pool, GpuPool, field=where, fix=GPU_POOL_EXAMPLE)
                continue
            if pool.name in seen:
                self.problems.add(
                    field=self.words.field(self.owner, f"pools[{index}].name")
                    if isinstance(self.words, Yaml)
                    else where,
                    value=pool.name,
                    rule=self.words.choose(
                        python="pool names must be unique (they name the NodePool and "
                        "EC2NodeClass)",
                        yaml=f"pools[{seen[pool.name]}] has the same name (it names the NodePool)",
                    ),
                    fix="rename one of the pools",
                )
            seen.setdefault(pool.name, index)
        return tuple(pools)

    def _generated_names(self, pools: tuple[GpuPool, ...]) -> None:
        """Two pools must not generate the same NodePool (and so EC2NodeClass, NodeOverlays and
        device plugin key): pool ``inf`` with a NodePool per GPU model makes ``inf-l4``, which
        a pool named ``inf-l4`` makes too, and on apply one silently replaces the other."""
        made_by: dict[str, str] = {}
        for index, pool in enumerate(pools):
            for node_pool in plan_pool(pool).node_pools:
                other = made_by.setdefault(node_pool.name, pool.name)
                if other != pool.name:
                    self.problems.add(
                        field=self.words.choose(
                            python=self.field("pools"), yaml=f"pools[{index}].name"
                        ),
                        value=node_pool.name,
                        rule=f"pools {other!r} and {pool.name!r} both generate a NodePool of "
                        "this name (with its EC2NodeClass, NodeOverlays and device plugin key); "
                        "applied, one would replace the other",
                        fix=f"rename pool {pool.name!r}",
                    )

    def _namespaces(self) -> None:
        """The namespaces the manifests create must be the library's own: each is written with
        a Pod Security level and the library's managed-by label, and a later change prints a
        delete for it."""
        setup = self.setup
        words = self.words
        owned = [
            (
                words.choose(python=self.field("device_plugin"), yaml="devicePlugin.namespace"),
                setup.device_plugin_namespace,
                DEVICE_PLUGIN_NAMESPACE,
            )
        ]
        if setup.monitoring is not None:
            owned.append(
                (
                    words.choose(python=self.field("monitoring"), yaml="monitoring.namespace"),
                    setup.monitoring.namespace,
                    MONITORING_NAMESPACE,
                )
            )
        if setup.sample_workload is not None:
            where = words.choose(python=self.field("sample_workload"), yaml="sampleWorkload")
            owned.append(
                (f"{where} (its namespace)", SAMPLE_WORKLOAD_NAMESPACE, SAMPLE_WORKLOAD_NAMESPACE)
            )
        seen: dict[str, str] = {}
        for where, namespace, default in owned:
            if reason := foreign_namespace_error(namespace):
                self.problems.add(
                    field=where,
                    value=namespace,
                    rule=reason,
                    fix=f"use a namespace of its own, e.g. {default} (the default)",
                )
            elif namespace in seen:
                self.problems.add(
                    field=where,
                    value=namespace,
                    rule=f"is also {seen[namespace]}: the manifests would define it twice with "
                    "different Pod Security levels, and the later file wins",
                    fix="give each its own namespace",
                )
            seen.setdefault(namespace, where)

    def _sample(self, pools: tuple[GpuPool, ...]) -> None:
        sample = self.setup.sample_workload
        if sample is None:
            return
        by_name = {p.name: p for p in pools}
        if sample.pool not in by_name:
            self.problems.add(
                field=self.words.field(self.owner, "sample_workload.pool"),
                value=sample.pool,
                rule=self.words.choose(
                    python="names no pool of this setup", yaml="names no pool of this file"
                ),
                fix=f"use one of {', '.join(sorted(by_name))}",
            )
            return
        with self.collect(yaml_key("sample_workload")):
            sample_replicas(by_name[sample.pool], sample.replicas)


def _is_token(value: object) -> bool:
    return isinstance(value, str) and is_cdk_token(value)
