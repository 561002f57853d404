"""CUDA MPS: kernels of several pods run on one GPU at once, each client capped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..errors import Problems, check_bool
from .checks import check_slices, toml_bool
from .counted import CountedShares
from .mode import GPU_RESOURCE, PoolFacts, register_mode

if TYPE_CHECKING:
    from ..catalog import GpuModel

#: Upstream limit on MPS clients per GPU of compute capability 7.5 and later (the device
#: plugin's MPS daemon).
MPS_MAX_REPLICAS: Final = 48
#: ... and on older GPUs (below compute capability 7.5, e.g. V100).
MPS_MAX_REPLICAS_BELOW_COMPUTE_7_5: Final = 16
#: NVIDIA GPUs below compute capability 7.5 (MPS allows 16 clients there, not 48).
GPUS_BELOW_COMPUTE_7_5: Final = frozenset({"k80", "m60", "v100"})


#: GFD's label for a node whose GPUs run MPS; the MPS control daemon's node selector.
MPS_CAPABLE_LABEL: Final = "nvidia.com/mps.capable"


@register_mode
@dataclass(frozen=True)
class Mps(CountedShares):
    """Share each GPU between clients through CUDA MPS: ``replicas`` of them, or as many as
    ``memory_gib`` slices fit the GPU's memory.

    MPS runs kernels of several processes concurrently. The device plugin's MPS daemon caps each
    client's device memory at the GPU's memory divided by the clients (so with ``memory_gib``
    at least that) and its threads at an equal share (k8s-device-plugin
    ``cmd/mps-control-daemon/mps/daemon.go``). Not with MIG; at most 48 clients per GPU (16 below
    compute capability 7.5, e.g. V100). On Bottlerocket (1.60 or later; the pinned release is
    newer) its built-in plugin runs MPS.

    :param replicas: clients per physical GPU (2..48). Give this or ``memory_gib``.
    :param rename_by_default: advertise ``nvidia.com/gpu.shared``. Default: False (Bottlerocket's
        own default is true; the library writes the setting out either way).
    :param memory_gib: GPU memory per client; the count then differs per GPU model. Give this
        or ``replicas``.
    """

    yaml_name = "mps"
    estimate_name = "mps"
    estimate_code = "mps"
    # The plugin's MPS control daemon selects nodes by GFD's nvidia.com/mps.capable label.
    needs_gpu_feature_discovery = True
    # Bottlerocket takes device-sharing-strategy = "mps" from 1.54.x, but containers can use
    # MPS only from v1.60.0: the SELinux policy let them reach the MPS daemon from
    # bottlerocket-core-kit #831 (v13.0.0, Bottlerocket v1.55.0), and non-root clients start
    # from bottlerocket-kernel-kit #415 ("Grant users read access to /run/nvidia so that
    # non-root users can start MPS daemons", kernel-kit v5.4.1, Bottlerocket v1.60.0).
    bottlerocket_since = "v1.60.0"

    replicas: int | None = None
    rename_by_default: bool = False
    memory_gib: int | None = None

    def device_plugin_node_labels(self) -> dict[str, str]:
        """``nvidia.com/mps.capable: "true"``, which GFD sets on every node whose config shares
        by MPS and has no MIG GPU (k8s-device-plugin v0.19.3 ``internal/lm/nvml.go``
        ``newSharingLabeler``), and which the chart's MPS control daemon selects
        (``daemonset-mps-control-daemon.yml``). On the template, Karpenter counts the
        daemon's requests on a new node; without it, it would not."""
        return {MPS_CAPABLE_LABEL: "true"}

    def __post_init__(self) -> None:
        problems = Problems()
        check_slices(problems, "Mps", self.replicas, self.memory_gib, MPS_MAX_REPLICAS)
        check_bool(problems, "Mps", "rename_by_default", self.rename_by_default)
        problems.raise_if_any()

    @property
    def fail_requests_greater_than_one(self) -> bool:
        """Always True, written into the config: the device plugin v0.20.0 only defaults it to
        true for MPS (a config may relax it), and an MPS pod given several shares would still
        get one client's limits."""
        return True

    def max_slices_for(self, model: GpuModel) -> int:
        """48 clients per GPU, 16 below compute capability 7.5."""
        return max_mps_clients(model.name)

    def check_pool(self, pool: PoolFacts) -> None:
        """The client limit of the oldest GPU the pool names or launches."""
        super().check_pool(pool)
        if self.replicas is None:
            return
        launched = {m.name for m in pool.gpu_models}
        old = sorted(GPUS_BELOW_COMPUTE_7_5 & (set(pool.gpu_names) | launched))
        if old and self.replicas > MPS_MAX_REPLICAS_BELOW_COMPUTE_7_5:
            pool.report(
                "sharing.replicas",
                self.replicas,
                f"MPS allows at most {MPS_MAX_REPLICAS_BELOW_COMPUTE_7_5} clients on GPUs "
                f"below compute capability 7.5 ({', '.join(old)})",
                f"use {MPS_MAX_REPLICAS_BELOW_COMPUTE_7_5} or fewer replicas, or newer GPUs",
            )

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
            f"rename-by-default = {toml_bool(self.rename_by_default)}\n"
        )


def max_mps_clients(gpu_name: str) -> int:
    """The device plugin's MPS client limit for one GPU named ``gpu_name`` (``t4``, ``v100``)."""
    if gpu_name in GPUS_BELOW_COMPUTE_7_5:
        return MPS_MAX_REPLICAS_BELOW_COMPUTE_7_5
    return MPS_MAX_REPLICAS
