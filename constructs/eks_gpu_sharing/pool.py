"""A GPU pool: which instances Karpenter may launch for it, and how their GPUs are shared.

``GpuPool`` is the one description everything else is derived from: the EC2NodeClass, the
NodePool (requirements, taint, labels, limits in slices), the NodeOverlays, the device plugin
profile and the sample workload. It is a frozen value object validated when it is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from enum import Enum
from typing import Any, Final

from .catalog import GpuInstanceType, load_catalog
from .errors import GPU_POOL_EXAMPLE, ConfigurationError, require_instance
from .sharing import DEVICE_PLUGIN_CONFIG_LABEL, GPU_RESOURCE, Mps, NoSharing, Sharing, TimeSlicing
from .versions import AL2023_AMI_VERSION, BOTTLEROCKET_AMI_VERSION

#: The taint every GPU pool carries, so only pods that tolerate it land on GPU nodes.
GPU_TAINT_KEY: Final = GPU_RESOURCE
#: Label that marks a node as belonging to a GPU pool of this library (value: pool name).
POOL_LABEL: Final = "eks-gpu-sharing.io/pool"
#: Label the device plugin chart's default node affinity accepts on nodes without NFD.
GPU_PRESENT_LABEL: Final = "nvidia.com/gpu.present"

#: Karpenter well-known requirement keys (karpenter.k8s.aws / karpenter.sh).
INSTANCE_CATEGORY: Final = "karpenter.k8s.aws/instance-category"
INSTANCE_FAMILY: Final = "karpenter.k8s.aws/instance-family"
INSTANCE_SIZE: Final = "karpenter.k8s.aws/instance-size"
INSTANCE_GPU_NAME: Final = "karpenter.k8s.aws/instance-gpu-name"
INSTANCE_GPU_COUNT: Final = "karpenter.k8s.aws/instance-gpu-count"
INSTANCE_GPU_MANUFACTURER: Final = "karpenter.k8s.aws/instance-gpu-manufacturer"
CAPACITY_TYPE: Final = "karpenter.sh/capacity-type"
NODEPOOL_LABEL: Final = "karpenter.sh/nodepool"
ARCH: Final = "kubernetes.io/arch"
OS: Final = "kubernetes.io/os"

#: EC2 instance categories that carry NVIDIA GPUs.
GPU_INSTANCE_CATEGORIES: Final = frozenset({"g", "p"})
#: NVIDIA GPUs below compute capability 7.5 (MPS allows 16 clients there, not 48).
GPUS_BELOW_COMPUTE_7_5: Final = frozenset({"k80", "m60", "v100"})
#: Smallest root volume we accept: CUDA images are several GiB and the default 20Gi fills up.
MIN_ROOT_VOLUME_GIB: Final = 50

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MAX_NAME = 40  # leaves room for suffixes such as "-gpu-16" and "-sample" in object names
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_DURATION = re.compile(r"^([0-9]+(s|m|h))+$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PERCENT_OR_COUNT = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")


class AmiFamily(Enum):
    """The EKS-optimized AMI family of a pool's nodes (NVIDIA variant picked automatically)."""

    AL2023 = "AL2023"
    BOTTLEROCKET = "Bottlerocket"

    @property
    def alias(self) -> str:
        """The pinned ``amiSelectorTerms[].alias`` (``@latest`` would drift nodes)."""
        if self is AmiFamily.AL2023:
            return f"al2023@{AL2023_AMI_VERSION}"
        return f"bottlerocket@{BOTTLEROCKET_AMI_VERSION}"

    @property
    def root_device_name(self) -> str:
        """The device that holds container images (Bottlerocket keeps them on its data volume)."""
        return "/dev/xvda" if self is AmiFamily.AL2023 else "/dev/xvdb"


class CapacityType(Enum):
    """Karpenter ``karpenter.sh/capacity-type`` values."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    RESERVED = "reserved"


class ConsolidationPolicy(Enum):
    """Karpenter ``spec.disruption.consolidationPolicy``."""

    WHEN_EMPTY = "WhenEmpty"
    WHEN_EMPTY_OR_UNDERUTILIZED = "WhenEmptyOrUnderutilized"


class TaintEffect(Enum):
    """Kubernetes taint effects."""

    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


@dataclass(frozen=True)
class Taint:
    """An extra node taint for a pool (the ``nvidia.com/gpu:NoSchedule`` taint is always set)."""

    key: str
    value: str | None = None
    effect: TaintEffect = TaintEffect.NO_SCHEDULE

    def __post_init__(self) -> None:
        _check_label_key("Taint.key", self.key)
        if self.value is not None:
            _check_label_value("Taint.value", self.value)
        if not isinstance(self.effect, TaintEffect):
            raise ConfigurationError(
                field="Taint.effect",
                value=self.effect,
                rule="must be a TaintEffect",
                fix="use TaintEffect.NO_SCHEDULE, PREFER_NO_SCHEDULE or NO_EXECUTE",
            )

    def to_dict(self) -> dict[str, str]:
        """The Kubernetes ``Taint`` object."""
        taint = {"key": self.key, "effect": self.effect.value}
        if self.value is not None:
            taint["value"] = self.value
        return taint


@dataclass(frozen=True)
class Disruption:
    """How Karpenter may disrupt a pool's nodes.

    The defaults suit GPU work: consolidation only removes *empty* nodes (repacking running GPU
    pods to save a node would restart long jobs and reload models), five minutes after the last
    pod left so a quick redeploy reuses the warm node; nodes expire after 30 days so they pick up
    patched AMIs; at most one node of the pool is disrupted at a time.

    :param consolidation_policy: Default: ``WHEN_EMPTY``.
    :param consolidate_after: Karpenter duration (``30s``, ``5m``, ``1h30m``) or ``Never``.
        Default: ``5m``.
    :param expire_after: Maximum node lifetime, a duration or ``Never``. Default: ``720h``.
    :param max_disrupted_nodes: Disruption budget, a count or a percentage. Default: ``"1"``.
    """

    consolidation_policy: ConsolidationPolicy = ConsolidationPolicy.WHEN_EMPTY
    consolidate_after: str = "5m"
    expire_after: str = "720h"
    max_disrupted_nodes: str = "1"

    def __post_init__(self) -> None:
        if not isinstance(self.consolidation_policy, ConsolidationPolicy):
            raise ConfigurationError(
                field="Disruption.consolidation_policy",
                value=self.consolidation_policy,
                rule="must be a ConsolidationPolicy",
                fix="use ConsolidationPolicy.WHEN_EMPTY or WHEN_EMPTY_OR_UNDERUTILIZED",
            )
        for name in ("consolidate_after", "expire_after"):
            value = getattr(self, name)
            if not isinstance(value, str) or not (value == "Never" or _DURATION.match(value)):
                raise ConfigurationError(
                    field=f"Disruption.{name}",
                    value=value,
                    rule="Karpenter durations are numbers with s, m or h units, or 'Never'",
                    fix='use e.g. "30s", "5m", "720h" or "Never"',
                )
        if not isinstance(self.max_disrupted_nodes, str) or not _PERCENT_OR_COUNT.match(
            self.max_disrupted_nodes
        ):
            raise ConfigurationError(
                field="Disruption.max_disrupted_nodes",
                value=self.max_disrupted_nodes,
                rule="a disruption budget is a node count or a percentage 0-100%",
                fix='use e.g. "1" or "10%"',
            )

    def to_dict(self) -> dict[str, Any]:
        """The NodePool ``spec.disruption`` object."""
        return {
            "consolidationPolicy": self.consolidation_policy.value,
            "consolidateAfter": self.consolidate_after,
            "budgets": [{"nodes": self.max_disrupted_nodes}],
        }


@dataclass(frozen=True)
class Requirement:
    """A Karpenter node requirement (``key operator values``)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The NodeSelectorRequirement object."""
        requirement: dict[str, Any] = {"key": self.key, "operator": self.operator}
        if self.values:
            requirement["values"] = list(self.values)
        return requirement


@dataclass(frozen=True)
class GpuPool:
    """A Karpenter pool of GPU nodes and how their GPUs are shared.

    Example::

        GpuPool("inference", gpu_names=["l4", "a10g", "t4"], sharing=TimeSlicing(replicas=4))

    Instance selection: give ``gpu_names``, ``instance_families`` and/or ``instance_categories``
    (each narrows the choice); with none of them the pool admits the ``g`` category. NVIDIA is
    always required as GPU manufacturer.

    :param name: Pool name; NodePool/EC2NodeClass names derive from it (DNS label, <= 40 chars).
    :param sharing: ``TimeSlicing``, ``Mps`` or ``NoSharing``. Default: ``NoSharing()``.
    :param gpu_names: ``karpenter.k8s.aws/instance-gpu-name`` values (``t4``, ``a10g``, ``l4``...).
    :param instance_families: e.g. ``g5``, ``g6``. Default: any.
    :param instance_categories: ``g`` and/or ``p``. Default: ``("g",)`` when nothing else is given.
    :param instance_sizes: e.g. ``xlarge``, ``2xlarge``. Default: any.
    :param gpu_counts: GPUs per instance the pool may launch; one NodeOverlay is made per count.
        Default: ``(1,)``.
    :param capacity_types: Default: on-demand only (spot GPUs are often scarce and reclaimed).
    :param architectures: ``amd64`` and/or ``arm64``. Default: ``("amd64",)``.
    :param ami_family: Default: ``AmiFamily.AL2023``.
    :param gpu_limit: Maximum *physical* GPUs the pool may run; the NodePool limit is this times
        the slices per GPU. Default: 8.
    :param root_volume_gib: Encrypted gp3 root/data volume size. Default: 100.
    :param labels: Extra node labels (not in reserved domains).
    :param taints: Extra taints, besides ``nvidia.com/gpu:NoSchedule``.
    :param disruption: Default: ``Disruption()``.
    :param weight: NodePool weight 1..100 (higher is tried first). Default: none.
    """

    name: str
    _: KW_ONLY
    sharing: Sharing = field(default_factory=NoSharing)
    gpu_names: Sequence[str] = ()
    instance_families: Sequence[str] = ()
    instance_categories: Sequence[str] = ()
    instance_sizes: Sequence[str] = ()
    gpu_counts: Sequence[int] = (1,)
    capacity_types: Sequence[CapacityType] = (CapacityType.ON_DEMAND,)
    architectures: Sequence[str] = ("amd64",)
    ami_family: AmiFamily = AmiFamily.AL2023
    gpu_limit: int = 8
    root_volume_gib: int = 100
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Taint] = ()
    disruption: Disruption = field(default_factory=Disruption)
    weight: int | None = None

    def __post_init__(self) -> None:
        # Freeze the collections so the pool is a true value object (hashable, no aliasing).
        for name in (
            "gpu_names",
            "instance_families",
            "instance_categories",
            "instance_sizes",
            "gpu_counts",
            "capacity_types",
            "architectures",
            "taints",
        ):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Sequence | set | frozenset):
                raise ConfigurationError(
                    field=f"GpuPool.{name}",
                    value=value,
                    rule="must be a list of values",
                    fix=f'wrap the value in a list, e.g. {name}=["{value}"]',
                )
            object.__setattr__(self, name, tuple(value))
        if not isinstance(self.labels, Mapping):
            raise ConfigurationError(
                field="GpuPool.labels",
                value=self.labels,
                rule="must be a mapping of label keys to values",
                fix='pass e.g. labels={"team": "ml"}',
            )
        object.__setattr__(self, "labels", _FrozenDict(self.labels))
        self._validate()

    # -- validation -------------------------------------------------------------------------

    def _validate(self) -> None:
        where = f"GpuPool({self.name!r})"
        if not isinstance(self.name, str) or not _NAME.match(self.name) or len(self.name) > 40:
            raise ConfigurationError(
                field="GpuPool.name",
                value=self.name,
                rule=f"must be a DNS label: lowercase letters, digits and '-', at most {_MAX_NAME}"
                " characters, starting and ending with a letter or digit",
                fix='use e.g. "inference" or "batch-l4"',
            )
        if not isinstance(self.sharing, TimeSlicing | Mps | NoSharing):
            raise ConfigurationError(
                field=f"{where}.sharing",
                value=self.sharing,
                rule="must be TimeSlicing(...), Mps(...) or NoSharing()",
                fix="e.g. sharing=TimeSlicing(replicas=4)",
            )
        self._validate_selection(where)
        self._validate_sizes(where)
        self._validate_ami(where)
        for key, value in self.labels.items():
            _check_label_key(f"{where}.labels key", key)
            _check_label_value(f"{where}.labels[{key!r}]", value)
            if key in self._managed_label_keys() or _is_reserved_label(key):
                raise ConfigurationError(
                    field=f"{where}.labels",
                    value=key,
                    rule="this label is reserved by Karpenter/Kubernetes or set by this library",
                    fix="choose a key in your own domain, e.g. example.com/team",
                )
        for taint in self.taints:
            if not isinstance(taint, Taint):
                raise ConfigurationError(
                    field=f"{where}.taints",
                    value=taint,
                    rule="each taint must be a Taint",
                    fix='use Taint("dedicated", "ml")',
                )
            if taint.key == GPU_TAINT_KEY:
                raise ConfigurationError(
                    field=f"{where}.taints",
                    value=taint.key,
                    rule="the nvidia.com/gpu:NoSchedule taint is always added",
                    fix="remove it from taints",
                )
        if not isinstance(self.disruption, Disruption):
            raise ConfigurationError(
                field=f"{where}.disruption",
                value=self.disruption,
                rule="must be a Disruption",
                fix="use Disruption(...)",
            )
        if self.weight is not None and (not _is_int(self.weight) or not 1 <= self.weight <= 100):
            raise ConfigurationError(
                field=f"{where}.weight",
                value=self.weight,
                rule="Karpenter NodePool weight is an integer 1..100",
                fix="use a value from 1 to 100, or leave it unset",
            )

    def _validate_selection(self, where: str) -> None:
        for name in ("gpu_names", "instance_families", "instance_sizes"):
            for value in getattr(self, name):
                if not isinstance(value, str) or not _TOKEN.match(value):
                    raise ConfigurationError(
                        field=f"{where}.{name}",
                        value=value,
                        rule="values are lowercase EC2 names (letters, digits, '.', '-')",
                        fix='use e.g. gpu_names=["l4"], instance_families=["g6"], '
                        'instance_sizes=["xlarge"]',
                    )
        for category in self.instance_categories:
            if category not in GPU_INSTANCE_CATEGORIES:
                raise ConfigurationError(
                    field=f"{where}.instance_categories",
                    value=category,
                    rule="only the g and p instance categories carry NVIDIA GPUs",
                    fix='use "g" and/or "p"',
                )
        if not self.gpu_counts:
            raise ConfigurationError(
                field=f"{where}.gpu_counts",
                value=list(self.gpu_counts),
                rule="a pool must admit at least one GPU count",
                fix="use e.g. gpu_counts=[1]",
            )
        for count in self.gpu_counts:
            if not _is_int(count) or not 1 <= count <= 16:
                raise ConfigurationError(
                    field=f"{where}.gpu_counts",
                    value=count,
                    rule="EC2 instances carry 1 to 16 GPUs",
                    fix="use counts such as 1, 4 or 8",
                )
        if len(set(self.gpu_counts)) != len(self.gpu_counts):
            raise ConfigurationError(
                field=f"{where}.gpu_counts",
                value=list(self.gpu_counts),
                rule="each GPU count may appear once",
                fix="remove the duplicates",
            )
        if not self.capacity_types or len(set(self.capacity_types)) != len(self.capacity_types):
            raise ConfigurationError(
                field=f"{where}.capacity_types",
                value=list(self.capacity_types),
                rule="must list at least one capacity type, each once",
                fix="use e.g. [CapacityType.ON_DEMAND] or [CapacityType.SPOT, "
                "CapacityType.ON_DEMAND]",
            )
        for capacity_type in self.capacity_types:
            if not isinstance(capacity_type, CapacityType):
                raise ConfigurationError(
                    field=f"{where}.capacity_types",
                    value=capacity_type,
                    rule="must be CapacityType values",
                    fix="use CapacityType.ON_DEMAND, SPOT or RESERVED",
                )
        if not self.architectures or not set(self.architectures) <= {"amd64", "arm64"}:
            raise ConfigurationError(
                field=f"{where}.architectures",
                value=list(self.architectures),
                rule="must be a non-empty list of amd64 and/or arm64",
                fix='use ["amd64"] (most GPU instances) or ["arm64"] (g5g)',
            )

    def _validate_sizes(self, where: str) -> None:
        if not _is_int(self.gpu_limit) or self.gpu_limit < 1:
            raise ConfigurationError(
                field=f"{where}.gpu_limit",
                value=self.gpu_limit,
                rule="the limit counts physical GPUs and must be a positive integer",
                fix="use e.g. gpu_limit=8",
            )
        if self.gpu_limit < min(self.gpu_counts):
            raise ConfigurationError(
                field=f"{where}.gpu_limit",
                value=self.gpu_limit,
                rule=f"smaller than the smallest instance the pool admits ({min(self.gpu_counts)}"
                " GPUs): Karpenter could never launch a node",
                fix=f"raise gpu_limit to at least {min(self.gpu_counts)} or admit smaller "
                "gpu_counts",
            )
        if not _is_int(self.root_volume_gib) or not (
            MIN_ROOT_VOLUME_GIB <= self.root_volume_gib <= 16384
        ):
            raise ConfigurationError(
                field=f"{where}.root_volume_gib",
                value=self.root_volume_gib,
                rule=f"CUDA images need room: at least {MIN_ROOT_VOLUME_GIB} GiB (gp3 max 16384)",
                fix="use 100 (the default) or more for large model images",
            )

    def _validate_ami(self, where: str) -> None:
        if not isinstance(self.ami_family, AmiFamily):
            raise ConfigurationError(
                field=f"{where}.ami_family",
                value=self.ami_family,
                rule="must be an AmiFamily",
                fix="use AmiFamily.AL2023 or AmiFamily.BOTTLEROCKET",
            )
        if isinstance(self.sharing, Mps):
            if self.ami_family is AmiFamily.BOTTLEROCKET:
                raise ConfigurationError(
                    field=f"{where}.sharing",
                    value=self.sharing,
                    rule="Bottlerocket's built-in device plugin supports time-slicing and MIG, "
                    "not MPS",
                    fix="use TimeSlicing(...) or ami_family=AmiFamily.AL2023",
                )
            old = sorted(GPUS_BELOW_COMPUTE_7_5 & set(self.gpu_names))
            if old and self.sharing.replicas > 16:
                raise ConfigurationError(
                    field=f"{where}.sharing.replicas",
                    value=self.sharing.replicas,
                    rule=f"MPS allows at most 16 clients on GPUs below compute capability 7.5 "
                    f"({', '.join(old)})",
                    fix="use 16 or fewer replicas, or newer GPUs",
                )

    # -- derived values ---------------------------------------------------------------------

    @property
    def slices_per_gpu(self) -> int:
        """Schedulable units per physical GPU (1 without sharing)."""
        return self.sharing.replicas

    @property
    def resource_name(self) -> str:
        """The extended resource pods request on this pool."""
        return self.sharing.resource_name

    @property
    def device_plugin_profile(self) -> str:
        """The device plugin ConfigMap key this pool's nodes select."""
        return self.sharing.profile_name

    @property
    def uses_device_plugin_daemonset(self) -> bool:
        """True for AL2023 pools, served by the Helm DaemonSet; Bottlerocket has its own plugin."""
        return self.ami_family is AmiFamily.AL2023

    @property
    def slice_limit(self) -> int:
        """The NodePool limit on ``resource_name``, in slices (physical GPUs x replicas)."""
        return self.gpu_limit * self.slices_per_gpu

    def requirements(self) -> list[Requirement]:
        """The NodePool's node requirements, derived from the instance selection."""
        categories = self.instance_categories
        if not (self.gpu_names or self.instance_families or categories):
            categories = ("g",)
        requirements = [
            Requirement(INSTANCE_GPU_MANUFACTURER, "In", ("nvidia",)),
            Requirement(INSTANCE_GPU_COUNT, "In", tuple(str(c) for c in sorted(self.gpu_counts))),
            Requirement(CAPACITY_TYPE, "In", tuple(c.value for c in self.capacity_types)),
            Requirement(ARCH, "In", tuple(self.architectures)),
            Requirement(OS, "In", ("linux",)),
        ]
        for key, values in (
            (INSTANCE_CATEGORY, categories),
            (INSTANCE_FAMILY, self.instance_families),
            (INSTANCE_GPU_NAME, self.gpu_names),
            (INSTANCE_SIZE, self.instance_sizes),
        ):
            if values:
                requirements.append(Requirement(key, "In", tuple(values)))
        return requirements

    def admitted_instance_types(self) -> tuple[GpuInstanceType, ...]:
        """The catalog's instance types this pool's NodePool requirements admit.

        Requirements on keys an instance type does not label (capacity type) are not
        instance-type properties and are ignored here.
        """
        requirements = self.requirements()
        return tuple(
            instance_type
            for instance_type in load_catalog().instance_types
            if all(
                r.key not in instance_type.labels or instance_type.labels[r.key] in r.values
                for r in requirements
            )
        )

    def node_labels(self) -> dict[str, str]:
        """Labels every node of the pool carries (NodePool ``template.metadata.labels``)."""
        labels = {POOL_LABEL: self.name}
        if self.uses_device_plugin_daemonset:
            labels[DEVICE_PLUGIN_CONFIG_LABEL] = self.device_plugin_profile
            labels[GPU_PRESENT_LABEL] = "true"
        labels.update(self.labels)
        return labels

    def node_taints(self) -> list[dict[str, str]]:
        """Taints every node of the pool carries."""
        gpu_taint = Taint(GPU_TAINT_KEY, effect=TaintEffect.NO_SCHEDULE)
        return [gpu_taint.to_dict(), *(t.to_dict() for t in self.taints)]

    def overlay_capacities(self) -> dict[int, dict[str, str]]:
        """NodeOverlay ``capacity`` per GPU count: what a node of that count really offers.

        Without sharing Karpenter's own view is right and no overlay is needed.
        """
        if isinstance(self.sharing, NoSharing):
            return {}
        capacities = {}
        for count in sorted(self.gpu_counts):
            capacity = {self.resource_name: str(count * self.slices_per_gpu)}
            if self.resource_name != GPU_RESOURCE:
                # A renamed node advertises no nvidia.com/gpu at all; tell Karpenter so that
                # pods asking for whole GPUs are not planned onto it.
                capacity[GPU_RESOURCE] = "0"
            capacities[count] = capacity
        return capacities

    def _managed_label_keys(self) -> set[str]:
        return {POOL_LABEL, DEVICE_PLUGIN_CONFIG_LABEL, GPU_PRESENT_LABEL}


def validate_pools(pools: Sequence[GpuPool]) -> tuple[GpuPool, ...]:
    """Check a set of pools together (unique names) and return them as a tuple."""
    pools = tuple(pools)
    if not pools:
        raise ConfigurationError(
            field="pools",
            value=[],
            rule="at least one GpuPool is needed",
            fix=GPU_POOL_EXAMPLE,
        )
    seen: set[str] = set()
    for pool in pools:
        require_instance(pool, GpuPool, field="pools", fix=GPU_POOL_EXAMPLE)
        if pool.name in seen:
            raise ConfigurationError(
                field="GpuPool.name",
                value=pool.name,
                rule="pool names must be unique (they name the NodePool and EC2NodeClass)",
                fix="rename one of the pools",
            )
        seen.add(pool.name)
    return pools


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only dict so a frozen GpuPool's labels cannot change behind its back."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def _readonly(self, *args: object, **kwargs: object) -> None:
        raise TypeError("GpuPool.labels is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_label_key(field_name: str, key: object) -> None:
    ok = isinstance(key, str) and 0 < len(key) <= 316
    if ok:
        prefix, _, name = key.rpartition("/")
        ok = bool(_LABEL_NAME.match(name)) and len(name) <= 63
        if prefix:
            ok = ok and len(prefix) <= 253 and bool(_DNS_SUBDOMAIN.match(prefix))
    if not ok:
        raise ConfigurationError(
            field=field_name,
            value=key,
            rule="a Kubernetes label key is an optional DNS-subdomain prefix and '/', then a "
            "name of at most 63 letters, digits, '-', '_' or '.'",
            fix='use e.g. "example.com/team"',
        )


def _check_label_value(field_name: str, value: object) -> None:
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ConfigurationError(
            field=field_name,
            value=value,
            rule="a Kubernetes label value has at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit",
            fix='use e.g. "ml-team"',
        )


def _is_reserved_label(key: str) -> bool:
    # Karpenter refuses labels in its restricted domains (karpenter.sh, karpenter.k8s.aws,
    # kubernetes.io, k8s.io) except the domains kubelet may set (v1 RestrictedLabelDomains and
    # LabelDomainExceptions in kubernetes-sigs/karpenter pkg/apis/v1/labels.go).
    prefix = key.rpartition("/")[0]
    exceptions = ("node.kubernetes.io", "node-restriction.kubernetes.io", "kops.k8s.io")
    if any(prefix == d or prefix.endswith("." + d) for d in exceptions):
        return False
    domains = ("karpenter.sh", "karpenter.k8s.aws", "kubernetes.io", "k8s.io")
    return any(prefix == d or prefix.endswith("." + d) for d in domains)
