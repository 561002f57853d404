#!/usr/bin/env python3
"""The reference app: VPC, EKS 1.36, Karpenter, the NVIDIA device plugin with time-slicing, the
GPU pools of gpu-sharing.yaml (two pools with different sharing), and a sample workload.

    make synth                      # cdk synth -> cdk.out/ (no AWS credentials needed)
    npx cdk deploy GpuSlicingEks    # deploys to the account/region of your AWS credentials

Context (``-c key=value``):
    clusterName   EKS cluster name (default: clusterName of gpu-sharing.yaml)
    adminRoleArn  IAM role given cluster-admin through an EKS access entry (default: none)
    natGateways   NAT gateways of the new VPC (default: 1, cheapest; 2+ for AZ resilience)
    availabilityZones  the new VPC's zones, comma-separated (e.g. us-east-1a,us-east-1b); with
                  CDK_DEFAULT_ACCOUNT/REGION set, keeps synth offline (no zone lookup)
    availabilityZones  the region's zones, comma-separated (e.g. us-east-1a,us-east-1b): with an
                  account and region (CDK_DEFAULT_ACCOUNT/REGION, set by `cdk deploy`), synth
                  then needs no AWS credentials for the zone lookup
    spotServiceLinkedRole  create | exists: the account's EC2 Spot service-linked role, which
                  pools that allow spot need (default: a synth warning)
    config        setup file with the pools (default: gpu-sharing.yaml)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from eks_gpu_sharing import ConfigurationError, GpuSharingCluster, SpotServiceLinkedRole
from eks_gpu_sharing.cdk.nag import acknowledge_eks_internals
from eks_gpu_sharing.cdk.zoned_stack import ZonedStack
from eks_gpu_sharing.config import load_config
from eks_gpu_sharing.versions import KUBERNETES_VERSION

STACK_NAME = "GpuSlicingEks"
DEFAULT_CONFIG = Path(__file__).resolve().with_name("gpu-sharing.yaml")


def build_app(outdir: str | None = None, context: dict[str, Any] | None = None) -> cdk.App:
    """Build the reference app (``outdir`` and ``context`` for tests and benchmarks)."""
    # No JavaScript stack traces in construct metadata: through jsii they only ever point into
    # jsii's own program.js, which `cdk synth` would print above every warning.
    context = {"aws:cdk:disable-stack-trace": True, **(context or {})}
    app = cdk.App(outdir=outdir, context=context) if outdir else cdk.App(context=context)
    config = load_config(app.node.try_get_context("config") or DEFAULT_CONFIG)
    if config.kubernetes_version != KUBERNETES_VERSION:
        raise ConfigurationError(
            field="kubernetesVersion",
            value=config.kubernetes_version,
            rule=f"the reference app creates a Kubernetes {KUBERNETES_VERSION} cluster",
            fix=f"remove kubernetesVersion from the file or set it to {KUBERNETES_VERSION!r}",
        )
    stack_props: dict[str, Any] = {
        "description": "GPU time-slicing on EKS with Karpenter (eks-gpu-sharing reference app)",
        # Unset outside `cdk deploy`: synth stays environment-agnostic and needs no credentials.
        "env": cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
    }
    zones = _zones_context(app)
    stack = (
        ZonedStack(app, STACK_NAME, availability_zones=zones, **stack_props)
        if zones is not None
        else cdk.Stack(app, STACK_NAME, **stack_props)
    )
    nat_gateways = _whole_number_context(app, "natGateways", default=1)
    gpu_slicing = GpuSharingCluster(
        stack,
        "GpuSlicing",
        cluster_name=app.node.try_get_context("clusterName") or config.cluster_name,
        admin_role_arn=app.node.try_get_context("adminRoleArn"),
        nat_gateways=nat_gateways,
        spot_service_linked_role=_spot_role_context(app),
        sample_workload=False,
        **config.options(),
    )
    if config.sample_workload is not None:
        gpu_slicing.gpu_sharing.add_sample_workload(
            config.sample_workload.pool, replicas=config.sample_workload.replicas
        )
    # Acknowledge cdk-nag findings on aws-cdk-lib's own EKS resources (opt-in: it finds them by
    # aws-cdk-lib's private construct ids, and tolerates their absence). A direct call once
    # every manifest is added: an aspect would cost a Node-to-Python call per construct.
    acknowledge_eks_internals(gpu_slicing.reference_cluster.cluster)
    return app


def _zones_context(app: cdk.App) -> list[str] | None:
    value = app.node.try_get_context("availabilityZones")
    if value is None:
        return None
    if isinstance(value, list):
        return [str(zone) for zone in value]
    return [zone.strip() for zone in str(value).split(",") if zone.strip()]


def _spot_role_context(app: cdk.App) -> SpotServiceLinkedRole | None:
    value = app.node.try_get_context("spotServiceLinkedRole")
    if value is None:
        return None
    choices = {role.value: role for role in SpotServiceLinkedRole}
    if value not in choices:
        raise ConfigurationError(
            field="-c spotServiceLinkedRole",
            value=value,
            rule=f"takes one of {', '.join(choices)}",
            fix="-c spotServiceLinkedRole=create once per account, then =exists",
        )
    return choices[value]


def _whole_number_context(app: cdk.App, key: str, *, default: int) -> int:
    value = app.node.try_get_context(key)
    if value is None:
        return default
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit() and len(value) < 4):
        return int(value)
    raise ConfigurationError(
        field=f"-c {key}",
        value=value,
        rule="takes a whole number",
        fix=f"e.g. -c {key}={default}",
    )


def main() -> int:
    """Synthesize, or print a configuration error without a traceback (exit status 2)."""
    try:
        build_app().synth()
    except ConfigurationError as error:
        print(f"app.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
