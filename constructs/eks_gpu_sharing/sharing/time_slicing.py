"""NVIDIA time-slicing: pods on one GPU take turns on the whole GPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..errors import Problems, check_bool
from .checks import check_slices, toml_bool
from .counted import CountedShares
from .mode import GPU_RESOURCE, register_mode

if TYPE_CHECKING:
    from ..catalog import GpuModel

#: Time-slicing has no upstream maximum; more slices than this cannot be useful (a slice is a
#: time share) and would push NodePool limits and labels past what their consumers accept.
TIME_SLICING_MAX_REPLICAS: Final = 256


@register_mode
@dataclass(frozen=True)
class TimeSlicing(CountedShares):
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

    yaml_name = "time-slicing"
    estimate_name = "time-slicing"
    estimate_code = "ts"
    dra_capable = True

    replicas: int | None = None
    rename_by_default: bool = False
    fail_requests_greater_than_one: bool = True
    memory_gib: int | None = None

    def __post_init__(self) -> None:
        problems = Problems()
        check_slices(
            problems, "TimeSlicing", self.replicas, self.memory_gib, TIME_SLICING_MAX_REPLICAS
        )
        check_bool(problems, "TimeSlicing", "rename_by_default", self.rename_by_default)
        check_bool(
            problems,
            "TimeSlicing",
            "fail_requests_greater_than_one",
            self.fail_requests_greater_than_one,
        )
        problems.raise_if_any()

    def max_slices_for(self, model: GpuModel) -> int:
        """The library's bound: time-slicing has no upstream one."""
        return TIME_SLICING_MAX_REPLICAS

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
            f"rename-by-default = {toml_bool(self.rename_by_default)}\n"
            "fail-requests-greater-than-one = "
            f"{toml_bool(self.fail_requests_greater_than_one)}\n"
        )
