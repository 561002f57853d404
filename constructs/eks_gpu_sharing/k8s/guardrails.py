"""The admission guardrails as Kubernetes objects (see :mod:`eks_gpu_sharing.guardrails`)."""

from __future__ import annotations

from collections.abc import Sequence

import cdk8s
from constructs import Construct

from ..errors import ConfigurationError
from ..guardrails import GUARDRAILS_POLICY_NAME, PodGuardrails, guardrail_validations
from ..pool import GpuPool
from .common import CHART_PROPS, api_object


class GuardrailsChart(cdk8s.Chart):
    """The ValidatingAdmissionPolicy and binding of :mod:`eks_gpu_sharing.k8s.guardrails`.

    :param pools: All GPU pools.
    :param guardrails: The settings.
    :param device_plugin_namespace: Always exempt (the plugin's pods tolerate the GPU taint).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pools: Sequence[GpuPool],
        guardrails: PodGuardrails,
        device_plugin_namespace: str,
    ) -> None:
        if not isinstance(guardrails, PodGuardrails):
            raise ConfigurationError(
                field="GuardrailsChart.guardrails",
                value=guardrails,
                rule="must be a PodGuardrails",
                fix="use PodGuardrails()",
            )
        rules = guardrail_validations(pools)
        super().__init__(scope, id, **CHART_PROPS)
        self.policy = api_object(
            self,
            "policy",
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicy",
            GUARDRAILS_POLICY_NAME,
            {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["pods"],
                        }
                    ]
                },
                **rules,
            },
        )
        exempt = sorted({*guardrails.exempt_namespaces, device_plugin_namespace})
        self.binding = api_object(
            self,
            "binding",
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicyBinding",
            GUARDRAILS_POLICY_NAME,
            {
                "policyName": GUARDRAILS_POLICY_NAME,
                "validationActions": list(guardrails.validation_actions),
                "matchResources": {
                    "namespaceSelector": {
                        "matchExpressions": [
                            {
                                "key": "kubernetes.io/metadata.name",
                                "operator": "NotIn",
                                "values": exempt,
                            }
                        ]
                    }
                },
            },
        )
