"""Scenario pools shared by the chart, validation and simulation tests: every sharing mode,
AMI family, GPU count mix, renamed resources, extra taints and labels."""

from __future__ import annotations

from eks_gpu_sharing import (
    AmiFamily,
    ConsolidationPolicy,
    Disruption,
    GpuPool,
    Mps,
    Taint,
    TimeSlicing,
)
from eks_gpu_sharing.karpenter_installation import ExistingKarpenter

KARPENTER = ExistingKarpenter(
    node_role_name="KarpenterNodeRole-demo",
    discovery_tag_value="demo",
    version="1.14.1",
    node_overlay_enabled=True,
)

INFERENCE = GpuPool(
    "inference",
    sharing=TimeSlicing(replicas=4),
    gpu_names=["l4", "a10g", "t4"],
    gpu_counts=[1, 4],
    gpu_limit=6,
)
BATCH = GpuPool(
    "batch",
    sharing=TimeSlicing(replicas=2),
    ami_family=AmiFamily.BOTTLEROCKET,
    root_volume_gib=200,
)
TRAINING = GpuPool("training", gpu_counts=[8], instance_categories=["p"], gpu_limit=16)
RENAMED = GpuPool("renamed", sharing=TimeSlicing(replicas=3, rename_by_default=True))
DEDICATED = GpuPool(
    "dedicated",
    sharing=TimeSlicing(replicas=4),
    taints=[Taint("example.com/team", "ml"), Taint("example.com/spot")],
    labels={"example.com/team": "ml"},
    disruption=Disruption(
        consolidation_policy=ConsolidationPolicy.WHEN_EMPTY_OR_UNDERUTILIZED,
        consolidate_after="30s",
        expire_after="Never",
        max_disrupted_nodes="10%",
    ),
    weight=50,
)
MPS = GpuPool("mps", sharing=Mps(replicas=8), gpu_counts=[1, 2])

ALL_POOLS = (INFERENCE, BATCH, TRAINING, RENAMED, DEDICATED, MPS)
