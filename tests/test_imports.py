"""The typed Karpenter classes are what `cdk8s import` makes of the pinned CRDs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from eks_gpu_sharing.upstream import Upstream
from eks_gpu_sharing.upstream.harness import KARPENTER_MODULE
from eks_gpu_sharing.versions import KARPENTER_VERSION

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "constructs" / "eks_gpu_sharing" / "k8s" / "imports"


def test_generated_classes_match_the_pinned_crds(tmp_path: Path, harness: Upstream) -> None:
    """Regenerated from the CRDs of the pinned provider module (the script finds them)."""
    assert harness.call("versions")["modules"][KARPENTER_MODULE] == f"v{KARPENTER_VERSION}"
    if shutil.which("cdk8s") is None:
        pytest.fail("the cdk8s CLI is not on PATH (run the tests through `make test`)")
    out = tmp_path / "imports"
    cdk8s_yaml = (ROOT / "cdk8s.yaml").read_text()
    subprocess.run(
        ["bash", "scripts/import_karpenter_crds.sh", "", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    # The .py sources carry every type and field; the bundled .jsii.tgz holds a timestamp.
    fresh = {p.relative_to(out): p.read_text() for p in out.rglob("*.py")}
    committed = {p.relative_to(COMMITTED): p.read_text() for p in COMMITTED.rglob("*.py")}
    assert set(fresh) == set(committed)
    stale = [str(path) for path in sorted(fresh) if fresh[path] != committed[path]]
    assert not stale, f"regenerate with `make imports`: {stale}"
    assert "class NodeOverlay(" in committed[Path("sh/karpenter/__init__.py")]
    assert (ROOT / "cdk8s.yaml").read_text() == cdk8s_yaml, "the script must not edit cdk8s.yaml"
