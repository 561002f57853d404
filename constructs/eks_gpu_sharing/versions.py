"""Every version the project deploys, each pinned once.

A new Kubernetes version: ``KUBERNETES_VERSION`` here, its kubectl layer package
(``aws-cdk.lambda-layer-kubectl-v<minor>``) and ``cdk8s-plus-<minor>`` in
``pyproject.toml``/``requirements.txt`` (and the ``cdk8s_plus_<minor>`` imports in ``k8s/``), and
a ``KARPENTER_MINIMUM_FOR_KUBERNETES`` entry.
This module is pure data: the cdk8s charts import it, so it must not import ``aws_cdk``.
"""

from __future__ import annotations

from typing import Final

#: EKS Kubernetes version of the reference cluster (1.30 left EKS extended support on 2026-07-23).
KUBERNETES_VERSION: Final = "1.36"

#: Karpenter Helm chart and controller version (chart ``karpenter`` in the OCI repository below):
#: the newest 1.15 patch (2026-12-04). 1.15 adds DRA (``settings.enableDRA``), which the ``dra``
#: backend needs; the device-plugin backend runs on any Karpenter from
#: ``KARPENTER_NODE_OVERLAY_MINIMUM``, so 1.14.x LTS clusters keep it (``ExistingKarpenter``).
KARPENTER_VERSION: Final = "1.15.2"
KARPENTER_CHART_REPOSITORY: Final = "oci://public.ecr.aws/karpenter/karpenter"
KARPENTER_CHART_NAME: Final = "karpenter"
#: Karpenter's CRDs as their own chart, installed first at the same version: Helm installs a
#: chart's ``crds/`` folder only on first install, so the main chart's CRDs never upgrade.
KARPENTER_CRD_CHART_REPOSITORY: Final = "oci://public.ecr.aws/karpenter/karpenter-crd"
KARPENTER_CRD_CHART_NAME: Final = "karpenter-crd"
#: Karpenter <-> Kubernetes compatibility matrix: the oldest Karpenter each Kubernetes minor needs.
#: https://karpenter.sh/docs/upgrading/compatibility/
KARPENTER_MINIMUM_FOR_KUBERNETES: Final = {
    "1.29": "0.34.0",
    "1.30": "0.37.0",
    "1.31": "1.0.5",
    "1.32": "1.2.0",
    "1.33": "1.5.0",
    "1.34": "1.6.0",
    "1.35": "1.9.0",
    "1.36": "1.13.0",
    "1.37": "1.15.0",
}
#: NodeOverlay (karpenter.sh/v1alpha1) exists behind the ``NodeOverlay`` feature gate from v1.7.
KARPENTER_NODE_OVERLAY_MINIMUM: Final = "1.7.0"
#: Karpenter provisions for pods' ResourceClaims (its ``DRANVIDIAGPU`` gate) from v1.15.
KARPENTER_DRA_MINIMUM: Final = "1.15.0"
#: Consumable capacity, which GPU sharing through DRA needs, is on by default from Kubernetes
#: 1.36 (Karpenter's DRA task page: "GPU time-slicing requires Kubernetes 1.36 or later").
DRA_KUBERNETES_MINIMUM: Final = "1.36"

#: NVIDIA device plugin Helm chart (and app) version.
NVIDIA_DEVICE_PLUGIN_VERSION: Final = "0.20.0"
NVIDIA_DEVICE_PLUGIN_CHART_REPOSITORY: Final = "https://nvidia.github.io/k8s-device-plugin"
NVIDIA_DEVICE_PLUGIN_CHART_NAME: Final = "nvidia-device-plugin"

#: Pinned EKS-optimized AMI releases for Karpenter's ``amiSelectorTerms[].alias``. Pinning avoids
#: the node drift ``@latest`` causes every time AWS publishes an AMI. Each is the newest release
#: confirmed with Kubernetes 1.36 NVIDIA AMIs (see ``ami_releases``): v20260714 is the newest
#: release awslabs/amazon-eks-ami's CHANGELOG.md lists (AMI names
#: ``amazon-eks-node-al2023-*-nvidia-1.36-v20260714``); Bottlerocket v1.63.0 (2026-07-06) has the
#: ``aws-k8s-1.36-nvidia`` variant, added in v1.61.0.
AL2023_AMI_VERSION: Final = "v20260714"
BOTTLEROCKET_AMI_VERSION: Final = "v1.63.0"

#: Public CUDA n-body sample (NVIDIA NGC), pinned by tag; the binary is ``/tmp/sample`` and
#: ``--benchmark`` prints GFLOP/s. NVIDIA's own k8s-dra-driver GPU e2e tests use this tag.
SAMPLE_WORKLOAD_IMAGE: Final = "nvcr.io/nvidia/k8s/cuda-sample:nbody-cuda11.6.0-ubuntu18.04"


def kubernetes_minor(version: str = KUBERNETES_VERSION) -> int:
    """Return the minor number of a ``"1.NN"`` Kubernetes version string."""
    return int(version.split(".")[1])


def parse_version(version: str) -> tuple[int, ...]:
    """Parse ``"1.14.1"`` or ``"v1.14.1"`` into a comparable tuple."""
    return tuple(int(part) for part in version.lstrip("v").split("-")[0].split("."))


def enable_node_overlay_hint(karpenter_version: str) -> str:
    """How to turn on the NodeOverlay feature gate of a running Karpenter without upgrading it.

    ``--version`` keeps the running chart (Helm would otherwise take the newest); Helm does not
    upgrade CRDs, so a Karpenter first installed before 1.7 also needs the NodeOverlay CRD from
    the ``karpenter-crd`` chart.
    """
    return (
        f"helm upgrade karpenter {KARPENTER_CHART_REPOSITORY} --namespace <namespace> "
        f"--version {karpenter_version.lstrip('v')} --reuse-values "
        "--set settings.featureGates.nodeOverlay=true"
    )


def enable_dra_hint(karpenter_version: str) -> str:
    """How to turn on Karpenter's NVIDIA DRA support (its ``DRANVIDIAGPU`` gate, which also
    makes it stop ignoring pods' DRA requests) on a running 1.15+ release. Karpenter's DRA page
    asks for ``--reset-then-reuse-values``: ``--reuse-values`` keeps an older chart's default
    ``ignoreDRARequests: true``, which the chart refuses beside the gate."""
    return (
        f"helm upgrade karpenter {KARPENTER_CHART_REPOSITORY} --namespace <namespace> "
        f"--version {karpenter_version.lstrip('v')} --reset-then-reuse-values "
        "--set settings.awsFeatureGates.draNVIDIAGPU=true"
    )


#: NVIDIA DCGM exporter Helm chart (opt-in monitoring): chart and app 4.8.2, image
#: 4.5.3-4.8.2 (github.com/NVIDIA/dcgm-exporter tag 4.5.3-4.8.2, deployment/Chart.yaml).
DCGM_EXPORTER_CHART_VERSION: Final = "4.8.2"
DCGM_EXPORTER_CHART_REPOSITORY: Final = "https://nvidia.github.io/dcgm-exporter/helm-charts"
DCGM_EXPORTER_CHART_NAME: Final = "dcgm-exporter"
