#!/usr/bin/env python3
"""An outside user's CDK app: time-sliced GPU pools on clusters that already exist.

Two stacks, one per case:
- ``GpuPoolsOnExistingKarpenter``: the cluster already runs Karpenter (installed by its owners);
  the construct adds GPU pools, NodeOverlays, the device plugin and a sample.
- ``GpuPoolsWithNewKarpenter``: the cluster has no Karpenter; the construct installs it first.

Only the installed package is used (``pip install eks-gpu-sharing``), never project internals.
Replace the IDs below with your cluster's (``aws eks describe-cluster --name <name>``).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer

from eks_gpu_sharing import (
    CapacityType,
    ExistingKarpenter,
    GpuPool,
    GpuSharing,
    NoSharing,
    TimeSlicing,
)

ENV = cdk.Environment(account="111122223333", region="us-east-1")

POOLS = [
    GpuPool(
        "inference",
        gpu_names=["l4", "a10g"],
        sharing=TimeSlicing(replicas=4),
        capacity_types=[CapacityType.SPOT, CapacityType.ON_DEMAND],
        gpu_limit=8,
    ),
    GpuPool(
        "training", instance_families=["p5"], gpu_counts=[8], sharing=NoSharing(), gpu_limit=16
    ),
]


def import_cluster(stack: cdk.Stack, name: str) -> eks.ICluster:
    """Import an existing cluster with what the kubectl provider needs."""
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    )
    return eks.Cluster.from_cluster_attributes(
        stack,
        "Cluster",
        cluster_name=name,
        # A role in the cluster's access entries (or aws-auth) with cluster-admin rights.
        kubectl_role_arn=f"arn:aws:iam::{ENV.account}:role/{name}-kubectl",
        kubectl_layer=KubectlV36Layer(stack, "KubectlLayer"),
        cluster_security_group_id="sg-0123456789abcdef0",
        vpc=vpc,
    )


app = cdk.App()

with_karpenter = cdk.Stack(app, "GpuPoolsOnExistingKarpenter", env=ENV)
GpuSharing(
    with_karpenter,
    "GpuSharing",
    cluster=import_cluster(with_karpenter, "prod"),
    karpenter=ExistingKarpenter(
        node_role_name="KarpenterNodeRole-prod",
        discovery_tag_value="prod",
        version="1.14.1",
        node_overlay_enabled=True,
    ),
    pools=POOLS,
)

without_karpenter = cdk.Stack(app, "GpuPoolsWithNewKarpenter", env=ENV)
GpuSharing(
    without_karpenter,
    "GpuSharing",
    cluster=import_cluster(without_karpenter, "staging"),
    pools=POOLS,
)

app.synth()
