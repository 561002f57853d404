"""The kubectl Lambda layer and EKS version object that match ``versions.KUBERNETES_VERSION``.

aws-cdk-lib publishes one kubectl layer package per Kubernetes minor
(``aws-cdk.lambda-layer-kubectl-v<minor>``, Python module ``aws_cdk.lambda_layer_kubectl_v<minor>``,
class ``KubectlV<minor>Layer``). The layer is looked up from the version string, so no code here
changes for a new Kubernetes version (``versions.py`` lists what else does).
"""

from __future__ import annotations

import importlib

from aws_cdk import aws_eks as eks
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ..errors import ConfigurationError
from ..versions import KUBERNETES_VERSION, kubernetes_minor

__all__ = ["kubectl_layer", "kubectl_layer_module_name", "kubernetes_version"]


def kubectl_layer_module_name(version: str = KUBERNETES_VERSION) -> str:
    """Return the module holding the kubectl layer for ``version`` (``"1.36"`` -> ``..._v36``)."""
    return f"aws_cdk.lambda_layer_kubectl_v{kubernetes_minor(version)}"


def kubernetes_version(version: str = KUBERNETES_VERSION) -> eks.KubernetesVersion:
    """Return the ``eks.KubernetesVersion`` for ``version`` (default: ``KUBERNETES_VERSION``)."""
    return eks.KubernetesVersion.of(version)


def kubectl_layer(
    scope: Construct, id: str = "KubectlLayer", *, version: str = KUBERNETES_VERSION
) -> lambda_.ILayerVersion:
    """Create the kubectl/Helm Lambda layer for ``version`` in ``scope``.

    :param scope: construct that will own the layer (usually the cluster's parent).
    :param id: construct id of the layer. Default: ``"KubectlLayer"``.
    :param version: Kubernetes ``"1.NN"`` version. Default: ``versions.KUBERNETES_VERSION``.
    :raises ConfigurationError: when the matching layer package is not installed.
    """
    minor = kubernetes_minor(version)
    module_name = kubectl_layer_module_name(version)
    class_name = f"KubectlV{minor}Layer"
    package = f"aws-cdk.lambda-layer-kubectl-v{minor}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise ConfigurationError(
            field="KUBERNETES_VERSION",
            value=version,
            rule=f"the kubectl layer module {module_name} is not installed ({error})",
            fix=f"pip install {package} (and add it to requirements.txt/pyproject.toml)",
        ) from error
    layer_class = getattr(module, class_name, None)
    if layer_class is None:
        raise ConfigurationError(
            field="KUBERNETES_VERSION",
            value=version,
            rule=f"{module_name} has no class {class_name}",
            fix=f"install a release of {package} that provides {class_name}",
        )
    layer: lambda_.ILayerVersion = layer_class(scope, id)
    return layer
