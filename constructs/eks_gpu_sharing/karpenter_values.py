"""The Helm values this library deploys Karpenter with, as data (no AWS CDK import).

The ``Karpenter`` construct passes them to ``eks.HelmChart``; the tests and the scheduling
simulator render the pinned Karpenter chart with exactly these values (Helm's own code) and read
the controller's settings, e.g. the ``FEATURE_GATES`` the NodeOverlay gate ends up in.
"""

from __future__ import annotations

from typing import Any, Final

#: Helm release name of the official install.
KARPENTER_RELEASE: Final = "karpenter"
#: Helm release of the ``karpenter-crd`` chart (the name Karpenter's upgrade guide uses).
KARPENTER_CRD_RELEASE: Final = "karpenter-crd"
#: The controller's requests and limits in the official getting-started install (v1.14,
#: ``step08-apply-helm-chart.sh``): one CPU and 1 GiB, requests equal to limits.
CONTROLLER_RESOURCES: Final = {
    "requests": {"cpu": "1", "memory": "1Gi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}


def karpenter_chart_values(
    *,
    cluster_name: str,
    interruption_queue: str | None = None,
    service_account_name: str = "karpenter",
    node_overlay: bool = True,
    replicas: int = 2,
    dra: bool = False,
) -> dict[str, Any]:
    """Values for the ``karpenter`` chart.

    :param cluster_name: ``settings.clusterName`` (required by the chart). May be a CDK token.
    :param interruption_queue: SQS queue *name* for interruption handling. Default: none.
    :param service_account_name: The controller's service account. Default: ``karpenter``.
    :param node_overlay: ``settings.featureGates.nodeOverlay``: NodeOverlays make Karpenter
        count GPU slices. Default: True.
    :param replicas: Controller replicas. Default: 2 (one per host, spread over zones).
    :param dra: ``settings.awsFeatureGates.draNVIDIAGPU``: Karpenter models the NVIDIA DRA
        driver's devices and provisions for pods' ResourceClaims (the chart then sets
        ``IGNORE_DRA_REQUESTS=false``). Default: False.
    """
    settings: dict[str, Any] = {"clusterName": cluster_name}
    if interruption_queue is not None:
        settings["interruptionQueue"] = interruption_queue
    settings["featureGates"] = {"nodeOverlay": node_overlay}
    if dra:
        settings["awsFeatureGates"] = {"draNVIDIAGPU": True}
    return {
        "settings": settings,
        "serviceAccount": {"create": True, "name": service_account_name},
        "replicas": replicas,
        "controller": {"resources": CONTROLLER_RESOURCES},
        "podDisruptionBudget": {"name": "karpenter", "maxUnavailable": 1},
        # The chart's own defaults, pinned here so a chart release cannot drop them: never on
        # nodes Karpenter launches (it would manage its own node), one replica per host,
        # replicas spread over zones.
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"}
                            ]
                        }
                    ]
                }
            },
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "kubernetes.io/hostname"}
                ]
            },
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
            }
        ],
    }
