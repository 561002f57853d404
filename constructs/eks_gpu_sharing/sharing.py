"""How a pool's GPUs are shared: NVIDIA time-slicing, MPS, or not at all.

Each sharing mode is a frozen value object. It validates itself against the NVIDIA device
plugin's own rules (``api/config/v1`` of k8s-device-plugin v0.20.0; the tests load every
profile with the plugin's loader) and renders the two forms the plugin is configured in: a v1
config file (AL2023 nodes, Helm chart + ConfigMap) and Bottlerocket user-data TOML (Bottlerocket
ships its own device plugin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .errors import Problems
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


@dataclass(frozen=True)
class TimeSlicing:
    """Time-slice each physical GPU into ``replicas`` schedulable slices.

    Pods on one GPU take turns on the whole GPU; there is no memory or fault isolation.

    :param replicas: slices per physical GPU (2..256).
    :param rename_by_default: advertise slices as ``nvidia.com/gpu.shared`` instead of
        ``nvidia.com/gpu``, so workloads opt in explicitly. Default: False.
    :param fail_requests_greater_than_one: reject pods that ask for more than one slice (they
        would get no more compute, only more of the same time-share). Default: True.
    """

    replicas: int
    rename_by_default: bool = False
    fail_requests_greater_than_one: bool = True

    def __post_init__(self) -> None:
        problems = Problems()
        _check_replicas(problems, "TimeSlicing", self.replicas, TIME_SLICING_MAX_REPLICAS)
        _check_bool(problems, "TimeSlicing", "rename_by_default", self.rename_by_default)
        _check_bool(
            problems,
            "TimeSlicing",
            "fail_requests_greater_than_one",
            self.fail_requests_greater_than_one,
        )
        problems.raise_if_any()

    @property
    def resource_name(self) -> str:
        """The extended resource a pod requests for one slice."""
        return SHARED_GPU_RESOURCE if self.rename_by_default else GPU_RESOURCE

    @property
    def profile_name(self) -> str:
        """Stable ConfigMap key for this exact configuration (e.g. ``time-slicing-4``)."""
        name = f"time-slicing-{self.replicas}"
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

    def bottlerocket_settings(self) -> str:
        """Bottlerocket user-data TOML that configures its built-in device plugin the same way."""
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
class Mps:
    """Share each GPU between ``replicas`` clients through CUDA MPS.

    MPS runs kernels of several processes concurrently and caps each client's memory and
    compute share; it is not supported on Bottlerocket's built-in plugin, with MIG, or with more
    than 48 clients per GPU (16 below compute capability 7.5, e.g. V100).

    :param replicas: clients per physical GPU (2..48).
    :param rename_by_default: advertise ``nvidia.com/gpu.shared``. Default: False.
    """

    replicas: int
    rename_by_default: bool = False

    def __post_init__(self) -> None:
        problems = Problems()
        _check_replicas(problems, "Mps", self.replicas, MPS_MAX_REPLICAS)
        _check_bool(problems, "Mps", "rename_by_default", self.rename_by_default)
        problems.raise_if_any()

    @property
    def fail_requests_greater_than_one(self) -> bool:
        """Always True: the device plugin enforces it for MPS."""
        return True

    @property
    def resource_name(self) -> str:
        """The extended resource a pod requests for one share."""
        return SHARED_GPU_RESOURCE if self.rename_by_default else GPU_RESOURCE

    @property
    def profile_name(self) -> str:
        """Stable ConfigMap key for this exact configuration (e.g. ``mps-4``)."""
        return f"mps-{self.replicas}" + ("-renamed" if self.rename_by_default else "")

    def device_plugin_config(self) -> dict[str, Any]:
        """The device plugin ``v1`` config document for this mode."""
        return {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "mps": {
                    "renameByDefault": self.rename_by_default,
                    "resources": [{"name": GPU_RESOURCE, "replicas": self.replicas}],
                }
            },
        }


@dataclass(frozen=True)
class NoSharing:
    """Whole GPUs: one pod per physical GPU (the device plugin's default behaviour)."""

    @property
    def replicas(self) -> int:
        """One schedulable unit per physical GPU."""
        return 1

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

    def bottlerocket_settings(self) -> str:
        """Bottlerocket user-data TOML that keeps GPUs unshared."""
        return '[settings.kubelet-device-plugins.nvidia]\ndevice-sharing-strategy = "none"\n'


#: Any of the sharing modes.
Sharing = TimeSlicing | Mps | NoSharing

#: The config file's ``sharing.mode`` value of each mode.
SHARING_MODES: Final[dict[str, type[TimeSlicing] | type[Mps] | type[NoSharing]]] = {
    "time-slicing": TimeSlicing,
    "mps": Mps,
    "none": NoSharing,
}

#: The profile every GPU node falls back to when it carries no config label.
DEFAULT_PROFILE: Final = NoSharing()


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"
