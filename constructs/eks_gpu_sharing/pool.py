"""A GPU pool: which instances Karpenter may launch for it, and how their GPUs are shared.

``GpuPool`` is the one description everything else is derived from: the EC2NodeClass, the
NodePool (requirements, taint, labels, limits in slices), the NodeOverlays, the device plugin
profile and the sample workload. It is a frozen value object validated when it is built: every
problem is reported at once, in the words of what the user wrote (see ``vocabulary``), and the
instance selection is checked against the instance catalog so a pool that could never launch a
node is refused.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Final

from .ami_releases import kubernetes_support_error, release_at_least, release_format_error
from .backends import DEVICE_PLUGIN_CONFIG_LABEL, SharingBackend, backend_for
from .catalog import GpuInstanceType, load_catalog
from .errors import ConfigurationError, Problems
from .karpenter_api import (
    ARCH,
    CAPACITY_TYPE,
    INSTANCE_CATEGORY,
    INSTANCE_FAMILY,
    INSTANCE_GPU_COUNT,
    INSTANCE_GPU_MANUFACTURER,
    INSTANCE_GPU_NAME,
    INSTANCE_SIZE,
    INSTANCE_TYPE_LABEL,
    MAX_NODE_POOL_NAME,
    OS,
    WEIGHT_RANGE,
    Requirement,
    is_reserved_label,
)
from .kubernetes_names import dns_label_error, label_key_error, label_value_error
from .labels import (
    GPU_PRESENT_LABEL,
    GPU_TAINT_KEY,
    ISOLATION_TAINT_KEY,
    POOL_LABEL,
    SHARING_LABEL,
)
from .node_pool_names import names_per_gpu_model
from .pool_options import (
    AmiFamily,
    Backend,
    CapacityType,
    ConsolidationPolicy,
    Disruption,
    Taint,
    TaintEffect,
    check_enum,
)
from .sharing import MPS_CAPABLE_LABEL, NoSharing, PoolFacts, Sharing, SharingMode
from .vocabulary import vocabulary

__all__ = [
    "AmiFamily",
    "CapacityType",
    "ConsolidationPolicy",
    "Disruption",
    "GpuPool",
    "Taint",
    "TaintEffect",
]

#: Smallest root volume we accept: CUDA images are several GiB and the default 20Gi fills up.
MIN_ROOT_VOLUME_GIB: Final = 50
#: gp3's largest volume.
MAX_ROOT_VOLUME_GIB: Final = 16384
#: Longest pool name: object names append "-gpu-<count>" and "-sample" within 63 characters.
MAX_POOL_NAME: Final = 40
#: Most physical GPUs one pool may run (a NodePool limit a human can still read).
MAX_GPU_LIMIT: Final = 10_000
_ARCHITECTURES: Final = ("amd64", "arm64")
_SELECTIONS: Final = ("gpu_names", "instance_families", "instance_categories", "instance_sizes")


@dataclass(frozen=True)
class GpuPool:
    """A Karpenter pool of GPU nodes and how their GPUs are shared.

    Example::

        GpuPool("inference", gpu_names=["l4", "a10g", "t4"], sharing=TimeSlicing(replicas=4))

    Instance selection: give ``gpu_names``, ``instance_families`` and/or ``instance_categories``
    (each narrows the choice); with none of them the pool admits the ``g`` category. NVIDIA is
    always required as GPU manufacturer. The selection must admit at least one NVIDIA GPU
    instance type of the catalog (``eks_gpu_sharing.catalog``).

    :param name: Pool name; NodePool/EC2NodeClass names derive from it (DNS label, <= 40 chars).
    :param sharing: ``TimeSlicing``, ``Mps``, ``Mig`` or ``NoSharing``. Default: ``NoSharing()``.
    :param gpu_names: ``karpenter.k8s.aws/instance-gpu-name`` values (``t4``, ``a10g``, ``l4``...).
    :param instance_families: e.g. ``g5``, ``g6``. Default: any.
    :param instance_categories: ``g``, ``gr`` and/or ``p``. Default: ``("g",)`` when nothing else
        is given.
    :param instance_sizes: e.g. ``xlarge``, ``2xlarge``. Default: any.
    :param gpu_counts: GPUs per instance the pool may launch; one NodeOverlay is made per count.
        Default: ``(1,)``.
    :param capacity_types: Default: on-demand only (spot GPUs are often scarce and reclaimed).
    :param architectures: ``amd64`` and/or ``arm64``. Default: ``("amd64",)``.
    :param ami_family: Default: ``AmiFamily.AL2023``.
    :param backend: ``Backend.DEVICE_PLUGIN`` (the NVIDIA device plugin and NodeOverlays; every
        mode) or ``Backend.DRA`` (the NVIDIA DRA driver's consumable shares, counted by
        Karpenter 1.15 itself: ``TimeSlicing`` or ``NoSharing`` on AL2023, Kubernetes 1.36+).
        Default: ``Backend.DEVICE_PLUGIN``.
    :param ami_version: The AMI release to pin (``v20260714`` for AL2023, ``v1.63.0`` for
        Bottlerocket), e.g. to move a pool ahead of the others. It must have NVIDIA AMIs for
        the cluster's Kubernetes version (checked against ``ami_releases``). Default: the
        library's pin, ``versions.AL2023_AMI_VERSION`` or ``versions.BOTTLEROCKET_AMI_VERSION``.
    :param gpu_limit: Maximum *physical* GPUs per NodePool of the pool; the NodePool limit is
        this times the slices per GPU. A pool with several GPU counts, or with slices per GPU
        model, is several NodePools (``plan.plan_pool``), each with this limit: Karpenter's
        limits are per NodePool. Default: 8.
    :param root_volume_gib: Encrypted gp3 root/data volume size. Default: 100.
    :param labels: Extra node labels (not in reserved domains).
    :param taints: Extra taints, besides ``nvidia.com/gpu:NoSchedule``.
    :param disruption: Default: ``Disruption()``.
    :param weight: NodePool weight 1..100 (higher is tried first). Default: none.
    :param isolated: A shared pool's nodes also carry the taint
        ``eks-gpu-sharing.io/pool=<name>:NoSchedule``, so only pods that tolerate it (the
        sample, and workloads meant for the pool) land there, never a pod that asks for whole
        GPUs and tolerates only ``nvidia.com/gpu``. Pools of whole GPUs have no such taint.
        Default: True.
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
    backend: Backend = Backend.DEVICE_PLUGIN
    ami_version: str | None = None
    gpu_limit: int = 8
    root_volume_gib: int = 100
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[Taint] = ()
    disruption: Disruption = field(default_factory=Disruption)
    weight: int | None = None
    isolated: bool = True

    def __post_init__(self) -> None:
        _PoolCheck(self).run()

    # -- derived values ---------------------------------------------------------------------

    @property
    def ami_release(self) -> str:
        """The pinned AMI release: ``ami_version`` or the family's default."""
        return self.ami_version or self.ami_family.default_release

    @property
    def ami_alias(self) -> str:
        """The EC2NodeClass ``amiSelectorTerms[].alias``, e.g. ``al2023@v20260714``."""
        return f"{self.ami_family.alias_prefix}@{self.ami_release}"

    @property
    def resource_name(self) -> str:
        """The extended resource pods request on this pool (``sharing.resource_name``)."""
        return self.sharing.resource_name

    @property
    def sharing_backend(self) -> SharingBackend:
        """How the pool's sharing reaches its nodes (``backends``): the device plugin DaemonSet
        on AL2023, Bottlerocket's built-in plugin there, or the NVIDIA DRA driver."""
        return backend_for(self.ami_family, self.backend)

    @property
    def uses_device_plugin_daemonset(self) -> bool:
        """True where the library's device plugin Helm DaemonSet serves the pool (AL2023)."""
        return self.sharing_backend.runs_device_plugin_daemonset

    @property
    def uses_dra(self) -> bool:
        """True for a pool whose GPUs the NVIDIA DRA driver shares (pods use ResourceClaims)."""
        return self.backend is Backend.DRA

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
        instance-type properties and are ignored here; the tests check that Karpenter offers the
        NodePool the same types.
        """
        return _admitted(self.requirements())

    def node_taints(self) -> list[dict[str, str]]:
        """Taints every node of the pool carries."""
        gpu_taint = Taint(GPU_TAINT_KEY, effect=TaintEffect.NO_SCHEDULE)
        own = [gpu_taint, *([self.isolation_taint] if self.isolation_taint else [])]
        return [t.to_dict() for t in (*own, *self.taints)]

    @property
    def isolation_taint(self) -> Taint | None:
        """``eks-gpu-sharing.io/pool=<name>:NoSchedule`` on a shared, isolated pool; else None."""
        if not (self.isolated and self.sharing.shares_gpus):
            return None
        return Taint(ISOLATION_TAINT_KEY, self.name, TaintEffect.NO_SCHEDULE)


def _admitted(requirements: Sequence[Requirement]) -> tuple[GpuInstanceType, ...]:
    return tuple(
        instance_type
        for instance_type in load_catalog().instance_types
        if all(
            r.key not in instance_type.labels or instance_type.labels[r.key] in r.values
            for r in requirements
        )
    )


class _PoolCheck:
    """Every rule a GpuPool must satisfy, checked together so all problems are reported."""

    def __init__(self, pool: GpuPool) -> None:
        self.pool = pool
        self.problems = Problems()
        self.words = vocabulary()
        name = pool.name if isinstance(pool.name, str) else "?"
        self.owner = f"GpuPool({name[: MAX_POOL_NAME + 10]!r})"
        #: Attributes that failed their own checks: rules combining them are skipped.
        self.broken: set[str] = set()

    def add(self, attribute: str, value: object, rule: str, fix: str) -> None:
        self.broken.add(attribute.split(".")[0])
        self.problems.add(
            field=self.words.field(self.owner, attribute), value=value, rule=rule, fix=fix
        )

    def example(self, attribute: str, value: str) -> str:
        return "use e.g. " + self.words.example(attribute, value)

    def run(self) -> None:
        self._freeze_collections()
        self._name()
        self._sharing()
        self._selection()
        self._sizes()
        self._ami_family()
        self._backend()
        self._labels()
        self._taints()
        if not isinstance(self.pool.disruption, Disruption):
            self.add(
                "disruption",
                self.pool.disruption,
                "must be a Disruption",
                self.words.choose(python="use Disruption(...)", yaml="use a mapping"),
            )
        if not isinstance(self.pool.isolated, bool):
            self.add(
                "isolated",
                self.pool.isolated,
                "must be true or false",
                self.example("isolated", self.words.choose(python="False", yaml="false")),
            )
        weight = self.pool.weight
        if weight is not None and (not _is_int(weight) or weight not in WEIGHT_RANGE):
            self.add(
                "weight",
                weight,
                "Karpenter NodePool weight is a whole number 1..100",
                "use a value from 1 to 100, or leave it unset",
            )
        self._admits_an_instance_type()
        if not self.problems:
            self._sharing_fits()
        self.problems.raise_if_any()

    def _freeze_collections(self) -> None:
        # Freeze the collections so the pool is a true value object (hashable, no aliasing).
        for name in (*_SELECTIONS, "gpu_counts", "capacity_types", "architectures", "taints"):
            value = getattr(self.pool, name)
            if isinstance(value, str | bytes | Mapping) or not isinstance(
                value, Sequence | set | frozenset
            ):
                self.add(
                    name,
                    value,
                    "must be a list of values",
                    self.example(name, f'["{value}"]' if isinstance(value, str) else "[...]"),
                )
                object.__setattr__(self.pool, name, ())
            else:
                if name in _SELECTIONS:
                    # EC2 and AWS's pages write GPU names in capitals (T4, A10G); Karpenter's
                    # labels carry them in lower case, which the NodePool must match.
                    value = [v.lower() if isinstance(v, str) else v for v in value]
                object.__setattr__(self.pool, name, tuple(value))
        labels = self.pool.labels
        if not isinstance(labels, Mapping):
            self.add(
                "labels",
                labels,
                "must be a mapping of label keys to values",
                self.example("labels", '{"example.com/team": "ml"}'),
            )
            labels = {}
        object.__setattr__(self.pool, "labels", _FrozenDict(labels))

    def _name(self) -> None:
        if reason := dns_label_error(self.pool.name, max_length=MAX_POOL_NAME):
            self.add("name", self.pool.name, reason, self.example("name", '"inference"'))

    def _sharing(self) -> None:
        if not isinstance(self.pool.sharing, SharingMode):
            self.broken.add("sharing")
            self.add(
                "sharing",
                self.pool.sharing,
                "must be time-slicing, MPS, MIG or none",
                self.words.choose(
                    python="e.g. sharing=TimeSlicing(replicas=4)",
                    yaml="e.g. sharing: {mode: time-slicing, replicas: 4}",
                ),
            )

    def _selection(self) -> None:
        catalog = load_catalog()
        origin = catalog.source.get("instanceTypes", "").split(" generated")[0]
        known = {
            "gpu_names": catalog.gpu_names,
            "instance_families": catalog.families,
            "instance_categories": tuple(sorted({t.category for t in catalog.instance_types})),
            "instance_sizes": tuple(sorted({t.size for t in catalog.instance_types})),
        }
        for name, valid in known.items():
            for value in getattr(self.pool, name):
                if not isinstance(value, str) or value not in valid:
                    close = difflib.get_close_matches(str(value)[:100], valid, n=1, cutoff=0.5)
                    self.add(
                        name,
                        value,
                        "no NVIDIA GPU instance type has it (instance catalog: "
                        f"{origin}'s instance types)",
                        (f"did you mean {close[0]}? " if close else "")
                        + f"use one of {', '.join(valid)}",
                    )
        counts = self.pool.gpu_counts
        # 0: a fraction of one GPU (g6f, gr6f), which EC2 reports as no GPU.
        valid_counts = sorted({t.gpu_count for t in catalog.instance_types})
        if not counts and "gpu_counts" not in self.broken:
            self.add(
                "gpu_counts",
                [],
                "a pool must admit at least one GPU count",
                self.example("gpu_counts", "[1]"),
            )
        for count in counts:
            if not _is_int(count) or count not in valid_counts:
                self.add(
                    "gpu_counts",
                    count,
                    "no NVIDIA GPU instance type has this many GPUs",
                    f"use counts from {', '.join(map(str, valid_counts))} (0: a fraction of "
                    "one GPU, g6f and gr6f)",
                )
        if "gpu_counts" not in self.broken and len(set(counts)) != len(counts):
            self.add(
                "gpu_counts",
                list(counts),
                "each GPU count may appear once",
                "remove the duplicates",
            )
        capacity_types = self.pool.capacity_types
        if not capacity_types and "capacity_types" not in self.broken:
            self.add(
                "capacity_types",
                [],
                "must list at least one capacity type",
                self.example(
                    "capacity_types",
                    self.words.choose(python="[CapacityType.ON_DEMAND]", yaml="[on-demand]"),
                ),
            )
        for capacity_type in capacity_types:
            check_enum(self.problems, self.owner, "capacity_types", capacity_type, CapacityType)
        if not all(isinstance(c, CapacityType) for c in capacity_types):
            self.broken.add("capacity_types")
        if CapacityType.RESERVED in capacity_types:
            # Karpenter launches reserved capacity only into the EC2NodeClass's
            # capacityReservationSelectorTerms, which pools do not set (yet).
            self.add(
                "capacity_types",
                [getattr(c, "value", c) for c in capacity_types],
                "reserved capacity needs capacityReservationSelectorTerms on the EC2NodeClass, "
                "which a pool does not set: the pool would never launch a reserved node",
                "remove reserved (use on-demand, and spot where pods tolerate interruption)",
            )
        if all(isinstance(c, CapacityType) for c in capacity_types) and len(
            set(capacity_types)
        ) != len(capacity_types):
            self.add(
                "capacity_types",
                [c.value for c in capacity_types],
                "each capacity type may appear once",
                "remove the duplicates",
            )
        architectures = self.pool.architectures
        recognized = bool(architectures) and all(
            isinstance(a, str) and a in _ARCHITECTURES for a in architectures
        )
        if not recognized and "architectures" not in self.broken:
            self.add(
                "architectures",
                list(architectures),
                "must be a non-empty list of amd64 and/or arm64",
                self.example("architectures", '["amd64"]')
                + ' (most GPU instances) or ["arm64"] (g5g)',
            )

    def _sizes(self) -> None:
        pool = self.pool
        if not _is_int(pool.gpu_limit) or not 1 <= pool.gpu_limit <= MAX_GPU_LIMIT:
            self.add(
                "gpu_limit",
                pool.gpu_limit,
                f"the limit counts physical GPUs: a whole number from 1 to {MAX_GPU_LIMIT}",
                self.example("gpu_limit", "8"),
            )
        elif (
            "gpu_counts" not in self.broken
            and pool.gpu_counts
            and (pool.gpu_limit < min(pool.gpu_counts))
        ):
            smallest = min(pool.gpu_counts)
            self.add(
                "gpu_limit",
                pool.gpu_limit,
                f"smaller than the smallest instance the pool admits ({smallest} GPUs): "
                "Karpenter could never launch a node",
                f"raise it to at least {smallest} or admit smaller GPU counts",
            )
        if not _is_int(pool.root_volume_gib) or not (
            MIN_ROOT_VOLUME_GIB <= pool.root_volume_gib <= MAX_ROOT_VOLUME_GIB
        ):
            self.add(
                "root_volume_gib",
                pool.root_volume_gib,
                f"CUDA images need room: {MIN_ROOT_VOLUME_GIB} to {MAX_ROOT_VOLUME_GIB} GiB "
                "(the gp3 maximum)",
                self.example("root_volume_gib", "100") + " (the default) or more",
            )

    def _backend(self) -> None:
        """The DRA backend shares by the driver's consumable shares: time-slicing or whole GPUs,
        on the AL2023 NVIDIA AMI (Karpenter's DRA task page, "Requesting a timesliced GPU")."""
        before = len(list(self.problems))
        check_enum(self.problems, self.owner, "backend", self.pool.backend, Backend)
        if len(list(self.problems)) > before:
            self.broken.add("backend")
            return
        if self.pool.backend is not Backend.DRA:
            return
        device_plugin = self.words.choose(python="Backend.DEVICE_PLUGIN", yaml="device-plugin")
        if "ami_family" not in self.broken and self.pool.ami_family is not AmiFamily.AL2023:
            self.add(
                "backend",
                self.pool.backend,
                "the NVIDIA DRA driver backend runs on the AL2023 NVIDIA AMI; Bottlerocket's GPUs "
                "are served by its built-in device plugin",
                "use " + self.words.example("backend", device_plugin) + " on Bottlerocket, or "
                "AL2023 for DRA",
            )
        sharing = self.pool.sharing
        if "sharing" in self.broken or not isinstance(sharing, SharingMode):
            return
        if not sharing.dra_capable:
            self.add(
                "backend",
                self.pool.backend,
                f"the NVIDIA DRA driver's consumable shares are time-sliced; {sharing.yaml_name} "
                "stays with the device plugin (Karpenter models no MPS or MIG shares for DRA)",
                "use " + self.words.example("backend", device_plugin) + " for this pool, or "
                "time-slicing",
            )
        elif sharing.rename_by_default:
            self.add(
                "sharing.rename_by_default",
                True,
                "DRA pods ask through a ResourceClaim, not an extended resource: nothing is "
                "advertised under nvidia.com/gpu.shared",
                "leave it unset for a DRA pool",
            )

    def _ami_family(self) -> None:
        before = len(list(self.problems))
        check_enum(self.problems, self.owner, "ami_family", self.pool.ami_family, AmiFamily)
        if len(list(self.problems)) > before:
            self.broken.add("ami_family")
            return
        version = self.pool.ami_version
        if version is not None and (reason := release_format_error(self.pool.ami_family, version)):
            example = repr(self.pool.ami_family.default_release)
            self.add("ami_version", version, reason, self.example("ami_version", example))
        # The sharing mode's own rules need a sharing mode.
        sharing_ok = "sharing" not in self.broken
        if sharing_ok:
            self._bottlerocket_sharing_release()
        if sharing_ok and 0 in self.pool.gpu_counts and self.pool.sharing.shares_gpus:
            # One vGPU per instance, already a share of an L4: neither AWS nor NVIDIA documents
            # time-slicing, MPS or MIG on it, and nothing here could check it.
            self.add(
                "sharing",
                self.pool.sharing,
                "a fractional-GPU instance (GPU count 0: g6f, gr6f) is already a share of one "
                "GPU; it is not shared further",
                "give fractional types their own pool without sharing, or drop count 0",
            )
        if self.pool.ami_family is AmiFamily.BOTTLEROCKET and 0 in self.pool.gpu_counts:
            # A g6f/gr6f fraction is an NVIDIA vGPU that needs the GRID driver: the EKS AL2023
            # NVIDIA AMI installs it (amazon-eks-ami v20251023, #2450); Bottlerocket's NVIDIA
            # variants document no fractional-GPU type.
            self.add(
                "gpu_counts",
                list(self.pool.gpu_counts),
                "fractional-GPU instances (count 0: g6f, gr6f) need NVIDIA's GRID driver, which "
                "the AL2023 NVIDIA AMI installs and Bottlerocket does not document",
                self.example(
                    "ami_family", self.words.choose(python="AmiFamily.AL2023", yaml="AL2023")
                ),
            )

    def _bottlerocket_sharing_release(self) -> None:
        """A pinned Bottlerocket release older than its plugin's setting for the mode would
        ignore the user data: the nodes would offer whole GPUs while Karpenter counts slices."""
        pool = self.pool
        first = pool.sharing.bottlerocket_since
        if pool.ami_family is not AmiFamily.BOTTLEROCKET or first is None:
            return
        release = pool.ami_release
        if release_format_error(pool.ami_family, release) is None and not release_at_least(
            pool.ami_family, release, first
        ):
            mode = pool.sharing.yaml_name.upper()
            self.add(
                "ami_version",
                release,
                f"{mode} on Bottlerocket works from {first} (its built-in device plugin's "
                "settings, and what containers need to use them)",
                f"pin {first} or later, or leave it unset for the library's pin",
            )

    def _labels(self) -> None:
        managed = {POOL_LABEL, SHARING_LABEL, DEVICE_PLUGIN_CONFIG_LABEL, MPS_CAPABLE_LABEL}
        for key, value in self.pool.labels.items():
            if reason := label_key_error(key):
                self.add("labels", key, reason, "use a key such as example.com/team")
            elif key == GPU_PRESENT_LABEL:
                self.add(
                    "labels",
                    key,
                    "it draws any NVIDIA device plugin release with the chart's default affinity "
                    "onto the pool's nodes, beside the library's own: two plugins",
                    "leave it out; the library's plugin finds its nodes by eks-gpu-sharing.io/pool",
                )
            elif key in managed or is_reserved_label(key):
                self.add(
                    "labels",
                    key,
                    "this label is reserved by Karpenter/Kubernetes or set by this library",
                    "choose a key in your own domain, e.g. example.com/team",
                )
            elif key == INSTANCE_TYPE_LABEL:
                # A template label is a requirement too (Karpenter adds it to the NodeClaim's).
                admitted = sorted(t.name for t in self.pool.admitted_instance_types())
                if value not in admitted:
                    self.add(
                        "labels",
                        {key: value},
                        "a NodePool template label is a requirement: this one admits none of "
                        "the pool's instance types, so the pool would never launch a node",
                        "leave it out and select with instance families, sizes or GPU names",
                    )
            if reason := label_value_error(value):
                self.add("labels", {key: value}, reason, 'use a value such as "ml-team"')

    def _taints(self) -> None:
        seen: set[tuple[str, TaintEffect]] = set()
        for taint in self.pool.taints:
            if not isinstance(taint, Taint):
                self.add(
                    "taints",
                    taint,
                    "each taint must be a Taint",
                    self.words.choose(
                        python='use Taint("dedicated", "ml")',
                        yaml="use {key: dedicated, value: ml}",
                    ),
                )
            elif taint.key == GPU_TAINT_KEY:
                self.add(
                    "taints",
                    taint.key,
                    "the nvidia.com/gpu:NoSchedule taint is always added",
                    "remove it from taints",
                )
            elif taint.key == ISOLATION_TAINT_KEY:
                self.add(
                    "taints",
                    taint.key,
                    "the library sets this taint on shared pools itself (isolated)",
                    "remove it from taints",
                )
            elif (taint.key, taint.effect) in seen:
                self.add(
                    "taints",
                    taint.key,
                    f"appears twice with effect {taint.effect.value}: the API server refuses "
                    "the NodePool (a taint's key and effect are unique)",
                    "keep one of them",
                )
            if isinstance(taint, Taint):
                seen.add((taint.key, taint.effect))

    def _admits_an_instance_type(self) -> None:
        """A selection no catalog type satisfies is a NodePool that never launches a node."""
        involved = {*_SELECTIONS, "gpu_counts", "architectures"}
        if involved & self.broken or "capacity_types" in self.broken:
            return
        pool = self.pool
        if pool.admitted_instance_types():
            return
        given = [
            name for name in (*_SELECTIONS, "gpu_counts", "architectures") if getattr(pool, name)
        ]
        attribute = next((n for n in _SELECTIONS if getattr(pool, n)), "gpu_counts")
        # Which GPU names would work with everything else as it is?
        others = [r for r in pool.requirements() if r.key != INSTANCE_GPU_NAME]
        possible = sorted({t.gpu_name for t in _admitted(others)})
        hint = (
            f"GPU names possible with the rest of the selection: {', '.join(possible)}"
            if possible
            else "widen the instance families, sizes, counts or architectures"
        )
        self.add(
            attribute,
            getattr(pool, attribute),
            "no NVIDIA GPU instance type matches all of "
            + ", ".join(f"{self.words.name(n)}={list(getattr(pool, n))}" for n in given)
            + ": the NodePool would never launch a node",
            hint,
        )

    def _sharing_fits(self) -> None:
        """The sharing mode's own rules against the pool (its AMI family and release, and the
        GPU models the pool admits); with slices per GPU model, the NodePool names must fit."""
        pool = self.pool
        models = tuple(sorted({t.gpu_model for t in pool.admitted_instance_types()}))
        before = len(list(self.problems))
        pool.sharing.check_pool(
            PoolFacts(
                ami_family=pool.ami_family,
                ami_release=pool.ami_release,
                gpu_names=tuple(pool.gpu_names),
                gpu_models=models,
                report=self.add,
            )
        )
        if len(list(self.problems)) > before or not pool.sharing.depends_on_gpu_model:
            return
        if len(models) < 2:
            return
        longest = max(names_per_gpu_model(pool.name, models).values(), key=len)
        if len(longest) > MAX_NODE_POOL_NAME:
            self.add(
                "name",
                pool.name,
                f"a pool with slices per GPU model is one NodePool per model, named "
                f"<pool>-<gpu>; {longest!r} is longer than {MAX_NODE_POOL_NAME} characters",
                f"shorten the name by {len(longest) - MAX_NODE_POOL_NAME} characters",
            )


def check_ami_support(
    pool: GpuPool, kubernetes_version: str, *, kubernetes_version_field: str
) -> None:
    """Raise ConfigurationError if the pool's AMI release has no NVIDIA AMI for that Kubernetes
    version (Karpenter resolves the alias per cluster version: the pin moves with every minor)."""
    reason = kubernetes_support_error(pool.ami_family, pool.ami_release, kubernetes_version)
    if reason is None:
        return
    words = vocabulary()
    if pool.ami_version is not None:
        raise ConfigurationError(
            field=words.field(f"GpuPool({pool.name!r})", "ami_version"),
            value=pool.ami_version,
            rule=reason,
            fix="pin a release that has it, or leave it unset for the library's pin",
        )
    raise ConfigurationError(
        field=kubernetes_version_field,
        value=kubernetes_version,
        rule=f"pool {pool.name!r}: {reason}",
        fix=f"set the pool's {words.name('ami_version')} to a release that has it",
    )


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only dict so a frozen GpuPool's labels cannot change behind its back."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def _readonly(self, *args: object, **kwargs: object) -> None:
        raise TypeError("GpuPool.labels is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
