"""How a pool's GPUs are shared: NVIDIA time-slicing, MPS, MIG, or not at all.

Each sharing mode is a frozen value object. It validates itself against the NVIDIA device
plugin's own rules (``api/config/v1`` of k8s-device-plugin v0.20.0; the tests load every
profile with the plugin's loader) and renders the two forms the plugin is configured in: a v1
config file (AL2023 nodes, Helm chart + ConfigMap) and Bottlerocket user-data TOML (Bottlerocket
ships its own device plugin).

Time-slicing and MPS take a fixed number of slices per GPU (``replicas``) or a memory size per
slice (``memory_gib``); MIG takes a profile. With ``memory_gib`` or MIG the slices per GPU depend
on the GPU model, so a pool is rendered as one NodePool per model (see ``GpuPool.node_pools``),
each with the sharing resolved for its GPU by :meth:`for_gpu`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Final, Self

from .catalog import GpuModel, load_mig_catalog
from .errors import ConfigurationError, Problems
from .vocabulary import vocabulary

#: The extended resource a GPU (or a slice of one) is advertised as.
GPU_RESOURCE: Final = "nvidia.com/gpu"
#: With ``renameByDefault: true`` slices are advertised under this name instead.
SHARED_GPU_RESOURCE: Final = "nvidia.com/gpu.shared"
#: Node label the device plugin's config-manager reads to pick a key of its ConfigMap.
DEVICE_PLUGIN_CONFIG_LABEL: Final = "nvidia.com/device-plugin.config"

#: Upstream limit on MPS clients per GPU of compute capability 7.5 and later.
MPS_MAX_REPLICAS: Final = 48
#: ... and on older GPUs (below compute capability 7.5, e.g. V100).
MPS_MAX_REPLICAS_BELOW_COMPUTE_7_5: Final = 16
#: Time-slicing has no upstream maximum; more slices than this cannot be useful (a slice is a
#: time share) and would push NodePool limits and labels past what their consumers accept.
TIME_SLICING_MAX_REPLICAS: Final = 256
#: Largest memory per slice (GiB) accepted: more than any GPU EC2 offers.
MAX_SLICE_MEMORY_GIB: Final = 1024


def _check_slices(
    problems: Problems,
    owner: str,
    replicas: object,
    memory_gib: object,
    maximum: int,
) -> None:
    """Exactly one of ``replicas`` (a count) and ``memory_gib`` (a size per slice)."""
    words = vocabulary()
    if (replicas is None) == (memory_gib is None):
        problems.add(
            field=words.field(owner, "replicas"),
            value={"replicas": replicas, "memory_gib": memory_gib},
            rule="takes exactly one of a slice count per GPU and a memory size per slice ("
            + ("both" if replicas is not None else "neither")
            + " given)",
            fix="use e.g. "
            + words.example("replicas", "4")
            + " or "
            + words.example("memory_gib", "8"),
        )
        return
    if replicas is not None:
        _check_replicas(problems, owner, replicas, maximum)
        return
    if (
        not isinstance(memory_gib, int)
        or isinstance(memory_gib, bool)
        or not 1 <= memory_gib <= MAX_SLICE_MEMORY_GIB
    ):
        problems.add(
            field=words.field(owner, "memory_gib"),
            value=memory_gib,
            rule=f"GPU memory per slice is a whole number of GiB, 1..{MAX_SLICE_MEMORY_GIB}",
            fix="use e.g. " + words.example("memory_gib", "8"),
        )


def _slices_by_memory(model: GpuModel, memory_gib: int) -> int:
    """Slices of ``memory_gib`` that fit the memory of one ``model`` GPU."""
    return math.floor(model.memory_mib / (memory_gib * 1024))


def _check_replicas(problems: Problems, owner: str, replicas: object, maximum: int) -> None:
    words = vocabulary()
    field = words.field(owner, "replicas")
    # bool is an int subclass: TimeSlicing(replicas=True) must not pass as 1.
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        problems.add(
            field=field,
            value=replicas,
            rule="must be a whole number",
            fix=f"use e.g. {words.example('replicas', '4')}",
        )
    elif replicas < 2:
        problems.add(
            field=field,
            value=replicas,
            rule='the NVIDIA device plugin requires >= 2 ("number of replicas must be >= 2")',
            fix="use 2 or more, or "
            + words.choose(python="NoSharing()", yaml="mode: none")
            + " for whole GPUs",
        )
    elif replicas > maximum:
        problems.add(
            field=field,
            value=replicas,
            rule=f"at most {maximum} per GPU",
            fix=f"use {maximum} or fewer",
        )


def _check_bool(problems: Problems, owner: str, name: str, value: object) -> None:
    if not isinstance(value, bool):
        words = vocabulary()
        problems.add(
            field=words.field(owner, name),
            value=value,
            rule="must be true or false",
            fix=f"use {words.example(name, words.choose(python='True', yaml='true'))}",
        )


class _CountedShares:
    """What time-slicing and MPS have in common: ``replicas`` shares per GPU or as many
    ``memory_gib`` shares as fit each GPU model, advertised as ``nvidia.com/gpu`` or, renamed,
    ``nvidia.com/gpu.shared``."""

    replicas: int | None
    rename_by_default: bool
    memory_gib: int | None

    @property
    def resource_name(self) -> str:
        """The extended resource a pod requests for one share."""
        return SHARED_GPU_RESOURCE if self.rename_by_default else GPU_RESOURCE

    @property
    def depends_on_gpu_model(self) -> bool:
        """Whether the count differs per GPU model (with ``memory_gib``)."""
        return self.memory_gib is not None

    def slices_for(self, model: GpuModel) -> int:
        """Shares per GPU of ``model``."""
        if self.memory_gib is not None:
            return _slices_by_memory(model, self.memory_gib)
        assert self.replicas is not None
        return self.replicas

    def for_gpu(self, model: GpuModel) -> Self:
        """The same sharing with the count of ``model`` as ``replicas`` (itself if given)."""
        if self.memory_gib is None:
            return self
        # Only dataclasses derive from this class; mypy cannot know that of ``Self``.
        return replace(self, replicas=self.slices_for(model), memory_gib=None)  # type: ignore[type-var]


@dataclass(frozen=True)
class TimeSlicing(_CountedShares):
    """Time-slice each physical GPU into schedulable slices: ``replicas`` of them, or as many
    ``memory_gib`` slices as fit the GPU's memory (as EC2 reports it; 8 GiB slices: T4 16 GiB
    -> 2, L4 and A10G 22.4 GiB -> 2, L40S 44.7 GiB -> 5).

    Pods on one GPU take turns on the whole GPU; there is no memory or fault isolation (a slice's
    memory is a plan the workload keeps to, not a limit).

    :param replicas: slices per physical GPU (2..256). Give this or ``memory_gib``.
    :param rename_by_default: advertise slices as ``nvidia.com/gpu.shared`` instead of
        ``nvidia.com/gpu``, so workloads opt in explicitly. Default: False.
    :param fail_requests_greater_than_one: reject pods that ask for more than one slice (they
        would get no more compute, only more of the same time-share). Default: True.
    :param memory_gib: GPU memory per slice; the slice count then differs per GPU model (a pool
        becomes one NodePool per model). Give this or ``replicas``.
    """

    replicas: int | None = None
    rename_by_default: bool = False
    fail_requests_greater_than_one: bool = True
    memory_gib: int | None = None

    def __post_init__(self) -> None:
        problems = Problems()
        _check_slices(
            problems, "TimeSlicing", self.replicas, self.memory_gib, TIME_SLICING_MAX_REPLICAS
        )
        _check_bool(problems, "TimeSlicing", "rename_by_default", self.rename_by_default)
        _check_bool(
            problems,
            "TimeSlicing",
            "fail_requests_greater_than_one",
            self.fail_requests_greater_than_one,
        )
        problems.raise_if_any()

    @property
    def profile_name(self) -> str:
        """Stable name of this exact configuration (e.g. ``time-slicing-4``)."""
        name = (
            f"time-slicing-{self.replicas}"
            if self.memory_gib is None
            else f"time-slicing-{self.memory_gib}gib"
        )
        if self.rename_by_default:
            name += "-renamed"
        if not self.fail_requests_greater_than_one:
            name += "-multi"
        return name

    def device_plugin_config(self) -> dict[str, Any]:
        """The device plugin ``v1`` config document for this mode."""
        return {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "timeSlicing": {
                    "renameByDefault": self.rename_by_default,
                    "failRequestsGreaterThanOne": self.fail_requests_greater_than_one,
                    "resources": [{"name": GPU_RESOURCE, "replicas": self.replicas}],
                }
            },
        }

    def bottlerocket_settings(self, model: GpuModel | None = None) -> str:
        """Bottlerocket user-data TOML that configures its built-in device plugin the same way
        (Bottlerocket's defaults differ from NVIDIA's, so every setting is written out)."""
        return (
            "[settings.kubelet-device-plugins.nvidia]\n"
            'device-sharing-strategy = "time-slicing"\n'
            "\n"
            "[settings.kubelet-device-plugins.nvidia.time-slicing]\n"
            f"replicas = {self.replicas}\n"
            f"rename-by-default = {_toml_bool(self.rename_by_default)}\n"
            "fail-requests-greater-than-one = "
            f"{_toml_bool(self.fail_requests_greater_than_one)}\n"
        )


@dataclass(frozen=True)
class Mps(_CountedShares):
    """Share each GPU between clients through CUDA MPS: ``replicas`` of them, or as many as
    ``memory_gib`` slices fit the GPU's memory.

    MPS runs kernels of several processes concurrently. The device plugin's MPS daemon caps each
    client's device memory at the GPU's memory divided by the clients (so with ``memory_gib``
    at least that) and its threads at an equal share (k8s-device-plugin
    ``cmd/mps-control-daemon/mps/daemon.go``). Not with MIG; at most 48 clients per GPU (16 below
    compute capability 7.5, e.g. V100). On Bottlerocket (1.54 or later; the pinned release is
    newer) its built-in plugin runs MPS.

    :param replicas: clients per physical GPU (2..48). Give this or ``memory_gib``.
    :param rename_by_default: advertise ``nvidia.com/gpu.shared``. Default: False (Bottlerocket's
        own default is true; the library writes the setting out either way).
    :param memory_gib: GPU memory per client; the count then differs per GPU model. Give this
        or ``replicas``.
    """

    replicas: int | None = None
    rename_by_default: bool = False
    memory_gib: int | None = None

    def __post_init__(self) -> None:
        problems = Problems()
        _check_slices(problems, "Mps", self.replicas, self.memory_gib, MPS_MAX_REPLICAS)
        _check_bool(problems, "Mps", "rename_by_default", self.rename_by_default)
        problems.raise_if_any()

    @property
    def fail_requests_greater_than_one(self) -> bool:
        """Always True, written into the config: the device plugin v0.20.0 only defaults it to
        true for MPS (a config may relax it), and an MPS pod given several shares would still
        get one client's limits."""
        return True

    @property
    def profile_name(self) -> str:
        """Stable name of this exact configuration (e.g. ``mps-4``)."""
        count = f"{self.replicas}" if self.memory_gib is None else f"{self.memory_gib}gib"
        return f"mps-{count}" + ("-renamed" if self.rename_by_default else "")

    def device_plugin_config(self) -> dict[str, Any]:
        """The device plugin ``v1`` config document for this mode."""
        return {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "mps": {
                    "renameByDefault": self.rename_by_default,
                    "failRequestsGreaterThanOne": True,
                    "resources": [{"name": GPU_RESOURCE, "replicas": self.replicas}],
                }
            },
        }

    def bottlerocket_settings(self, model: GpuModel | None = None) -> str:
        """Bottlerocket user-data TOML for its built-in plugin's MPS (settings 1.54.x:
        ``device-sharing-strategy = "mps"``, ``[...nvidia.mps] replicas``, ``rename-by-default``,
        whose default there is true)."""
        return (
            "[settings.kubelet-device-plugins.nvidia]\n"
            'device-sharing-strategy = "mps"\n'
            "\n"
            "[settings.kubelet-device-plugins.nvidia.mps]\n"
            f"replicas = {self.replicas}\n"
            f"rename-by-default = {_toml_bool(self.rename_by_default)}\n"
        )


@dataclass(frozen=True)
class Mig:
    """Partition each GPU into MIG instances of one ``profile`` (e.g. ``1g.18gb`` on H200: seven
    instances, each with its own memory and compute, isolated in hardware).

    Bottlerocket pools only: its built-in plugin partitions the GPUs at boot
    (``device-partitioning-strategy = "mig"``) and advertises every instance as
    ``nvidia.com/gpu``. The instances per GPU depend on the GPU model (``catalog/
    mig_profiles.json``); a profile a pool's GPU lacks is an error. Not with MPS or time-slicing.

    :param profile: A MIG profile, ``<compute>g.<memory>gb``.
    """

    profile: str

    def __post_init__(self) -> None:
        words = vocabulary()
        if not isinstance(self.profile, str) or not _MIG_PROFILE.fullmatch(self.profile):
            known = sorted({p for m in load_mig_catalog().models for p in m.profiles})
            raise _error(
                words.field("Mig", "profile"),
                self.profile,
                "a MIG profile is <compute slices>g.<memory>gb, e.g. 1g.18gb",
                f"use one of {', '.join(known)}",
            )

    @property
    def replicas(self) -> None:
        """No fixed count: it depends on the GPU model (:meth:`slices_for`)."""
        return None

    @property
    def rename_by_default(self) -> bool:
        """MIG instances are advertised as ``nvidia.com/gpu``."""
        return False

    @property
    def fail_requests_greater_than_one(self) -> bool:
        """Each instance is a separate device: a pod may take several."""
        return False

    @property
    def resource_name(self) -> str:
        """The extended resource a pod requests for one MIG instance."""
        return GPU_RESOURCE

    @property
    def depends_on_gpu_model(self) -> bool:
        """Always: the instances per GPU depend on the model."""
        return True

    def slices_for(self, model: GpuModel) -> int:
        """Instances of the profile per GPU of ``model``; 0 if the model lacks it."""
        mig = load_mig_catalog().get(model)
        return mig.profiles.get(self.profile, 0) if mig else 0

    def for_gpu(self, model: GpuModel) -> Mig:
        """The same partitioning (its count comes from the catalog, per model)."""
        return self

    @property
    def profile_name(self) -> str:
        """Stable name of this configuration (e.g. ``mig-1g.18gb``)."""
        return f"mig-{self.profile}"

    def device_plugin_config(self) -> dict[str, Any]:
        """The device plugin ``v1`` config for GPUs partitioned into one profile: the
        ``single`` strategy advertises each instance as ``nvidia.com/gpu`` (the library
        partitions through Bottlerocket only, whose built-in plugin does the same)."""
        return {"version": "v1", "flags": {"migStrategy": "single"}}

    def bottlerocket_settings(self, model: GpuModel | None = None) -> str:
        """Bottlerocket user-data TOML that partitions ``model``'s GPUs at boot."""
        mig = load_mig_catalog().get(model) if model else None
        if mig is None:
            raise ValueError(f"no Bottlerocket MIG key for {model}")  # validated before: a bug
        return (
            "[settings.kubelet-device-plugins.nvidia]\n"
            'device-partitioning-strategy = "mig"\n'
            "\n"
            "[settings.kubelet-device-plugins.nvidia.mig.profile]\n"
            f'"{mig.bottlerocket_key}" = "{self.profile}"\n'
        )


@dataclass(frozen=True)
class NoSharing:
    """Whole GPUs: one pod per physical GPU (the device plugin's default behaviour)."""

    @property
    def replicas(self) -> int:
        """One schedulable unit per physical GPU."""
        return 1

    @property
    def depends_on_gpu_model(self) -> bool:
        """Never."""
        return False

    def slices_for(self, model: GpuModel) -> int:
        """One per GPU."""
        return 1

    def for_gpu(self, model: GpuModel) -> NoSharing:
        """Itself."""
        return self

    @property
    def rename_by_default(self) -> bool:
        """Never renamed."""
        return False

    @property
    def fail_requests_greater_than_one(self) -> bool:
        """Pods may request several whole GPUs."""
        return False

    @property
    def resource_name(self) -> str:
        """The extended resource a pod requests for one GPU."""
        return GPU_RESOURCE

    @property
    def profile_name(self) -> str:
        """ConfigMap key of the unshared profile."""
        return "exclusive"

    def device_plugin_config(self) -> dict[str, Any]:
        """A v1 config document with no sharing section."""
        return {"version": "v1", "flags": {"migStrategy": "none"}}

    def bottlerocket_settings(self, model: GpuModel | None = None) -> str:
        """Bottlerocket user-data TOML that keeps GPUs unshared."""
        return '[settings.kubelet-device-plugins.nvidia]\ndevice-sharing-strategy = "none"\n'


#: Any of the sharing modes.
Sharing = TimeSlicing | Mps | Mig | NoSharing

#: The config file's ``sharing.mode`` value of each mode.
SHARING_MODES: Final[dict[str, type[TimeSlicing] | type[Mps] | type[Mig] | type[NoSharing]]] = {
    "time-slicing": TimeSlicing,
    "mps": Mps,
    "mig": Mig,
    "none": NoSharing,
}

#: The profile every GPU node falls back to when it carries no config label.
DEFAULT_PROFILE: Final = NoSharing()


_MIG_PROFILE: Final = re.compile(r"[1-7]g\.[0-9]{1,3}gb", re.ASCII)


def _error(field: str, value: object, rule: str, fix: str) -> ConfigurationError:
    return ConfigurationError(field=field, value=value, rule=rule, fix=fix)


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"
