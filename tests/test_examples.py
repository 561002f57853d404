"""examples/: apps written the way outside users write them, synthesized as they would run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cdk_helpers import HELM_TYPE, MANIFEST_TYPE

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "existing_cluster"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("example.out")
    # Run it as `cdk synth` would: its own folder as working directory, the installed package.
    subprocess.run(
        [sys.executable, "app.py"],
        cwd=EXAMPLE,
        env={**os.environ, "CDK_OUTDIR": str(outdir)},
        check=True,
        capture_output=True,
        text=True,
    )
    return outdir


def _resource_types(template_path: Path) -> list[str]:
    template = json.loads(template_path.read_text())
    return [r["Type"] for r in template["Resources"].values()]


def test_existing_karpenter_stack_installs_no_karpenter(example_assembly: Path) -> None:
    types = _resource_types(example_assembly / "GpuPoolsOnExistingKarpenter.template.json")
    assert "AWS::SQS::Queue" not in types
    assert types.count(HELM_TYPE) == 1  # the device plugin only
    assert MANIFEST_TYPE in types


def test_new_karpenter_stack_installs_karpenter(example_assembly: Path) -> None:
    types = _resource_types(example_assembly / "GpuPoolsWithNewKarpenter.template.json")
    assert types.count("AWS::SQS::Queue") == 1
    assert types.count("AWS::EKS::PodIdentityAssociation") == 1
    # Karpenter's CRDs, Karpenter, the device plugin.
    assert types.count("Custom::AWSCDK-EKS-HelmChart") == 3


def test_example_uses_only_the_public_api() -> None:
    source = (EXAMPLE / "app.py").read_text()
    assert "from eks_gpu_sharing import" in source
    assert "eks_gpu_sharing." not in source.replace("from eks_gpu_sharing import", "")
