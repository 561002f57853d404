"""The reference app (app.py) as `cdk synth` produces it: lint, nag, order, manifests, size."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from cfnlint.api import ManualArgs, lint_file

from eks_gpu_sharing import ConfigurationError
from eks_gpu_sharing.upstream import Upstream
from tests.cdk_helpers import (
    HELM_TYPE,
    MANIFEST_TYPE,
    acknowledgments,
    depends_on_closure,
    manifest_objects,
    nag_violations,
    resources_of,
)
from tests.upstream_checks import admission_errors

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_EVENT_LIMIT = 262_144

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nagged_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, Path, str | None]:
    """The reference app synthesized with cdk-nag's AwsSolutions pack as a validation plugin.

    Returns the app, its output folder and the synth error (cdk-nag raises after writing the
    templates and ``validation-report.json`` when it finds anything unacknowledged).
    """
    outdir = tmp_path_factory.mktemp("cdk.out")
    # With cdk.json's context, as `cdk synth` passes it: the feature flags a new CDK app gets.
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = runpy.run_path(str(ROOT / "app.py"))["build_app"](str(outdir), context)
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    try:
        app.synth()
    except Exception as error:  # reported by test_cdk_nag_has_no_unacknowledged_findings
        return app, outdir, str(error)
    return app, outdir, None


@pytest.fixture(scope="module")
def assembly(nagged_app: tuple[cdk.App, Path, str | None]) -> Path:
    return nagged_app[1]


@pytest.fixture(scope="module")
def main_template(assembly: Path) -> dict[str, Any]:
    return json.loads((assembly / "GpuSlicingEks.template.json").read_text())


def _all_templates(assembly: Path) -> list[Path]:
    return sorted(assembly.glob("*.template.json"))


def test_app_refuses_a_config_for_another_kubernetes(tmp_path: Path) -> None:
    config = tmp_path / "gpu-sharing.yaml"
    config.write_text("kubernetesVersion: '1.35'\n" + (ROOT / "gpu-sharing.yaml").read_text())
    build_app = runpy.run_path(str(ROOT / "app.py"))["build_app"]
    with pytest.raises(ConfigurationError, match=r"kubernetesVersion='1\.35'"):
        build_app(str(tmp_path / "out"), context={"config": str(config)})


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"natGateways": "two"}, "app.py: error: -c natGateways='two': takes a whole number"),
        ({"config": "missing.yaml"}, "app.py: error: config file: missing.yaml -- "),
        ({"spotServiceLinkedRole": "yes"}, "app.py: error: -c spotServiceLinkedRole='yes'"),
    ],
)
def test_app_reports_bad_context_and_config_without_a_traceback(
    tmp_path: Path, context: dict[str, str], message: str
) -> None:
    # As `cdk synth` runs it: a process with the context and output folder in its environment.
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        env={
            **os.environ,
            "CDK_CONTEXT_JSON": json.dumps(context),
            "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "cdk.out").glob("asset.*"))  # nothing staged


def test_app_synthesizes_main_and_nested_templates(assembly: Path) -> None:
    names = [p.name for p in _all_templates(assembly)]
    assert "GpuSlicingEks.template.json" in names
    assert len(names) >= 3, names  # the EKS providers live in nested stacks


def test_cfn_lint_has_no_errors(assembly: Path) -> None:
    problems = []
    for template in _all_templates(assembly):
        for match in lint_file(template, ManualArgs(regions=["us-east-1"])):
            # Errors only; warnings (W*) and informational (I*) findings are advisory.
            if match.rule.id.startswith("E"):
                problems.append(f"{template.name}: {match}")
    assert not problems, "\n".join(problems)


def test_cdk_nag_has_no_unacknowledged_findings(
    nagged_app: tuple[cdk.App, Path, str | None],
) -> None:
    _, outdir, error = nagged_app
    violations = nag_violations(outdir)
    assert not violations, "\n".join(violations)
    assert error is None, error


def test_every_acknowledgment_names_a_specific_reason(
    nagged_app: tuple[cdk.App, Path, str | None],
) -> None:
    reasons: dict[str, str] = {}
    for path, rule, reason in acknowledgments(nagged_app[0]):
        if not rule.startswith("AwsSolutions-"):
            continue  # aws-cdk-lib's own acknowledgments (e.g. of cfn validation)
        assert len(reason) >= 30, f"{path} {rule}: {reason!r}"
        reasons[f"{path} {rule}"] = reason
    assert reasons, "expected documented acknowledgments"
    assert len(set(reasons.values())) > 3, "acknowledgment reasons look copy-pasted"


def test_two_pools_with_different_sharing_and_a_sample(main_template: dict[str, Any]) -> None:
    objects = [
        obj
        for resource in resources_of(main_template, MANIFEST_TYPE).values()
        for obj in manifest_objects(resource)
    ]
    pools = {o["metadata"]["name"]: o for o in objects if o["kind"] == "NodePool"}
    assert set(pools) == {"inference", "batch"}
    classes = {o["metadata"]["name"]: o for o in objects if o["kind"] == "EC2NodeClass"}
    aliases = {name: c["spec"]["amiSelectorTerms"][0]["alias"] for name, c in classes.items()}
    assert aliases["inference"].startswith("al2023@v")
    assert aliases["batch"].startswith("bottlerocket@v")
    assert "replicas = 2" in classes["batch"]["spec"]["userData"]
    jobs = [o for o in objects if o["kind"] == "Job"]
    assert [j["metadata"]["labels"]["app.kubernetes.io/name"] for j in jobs] == ["inference-sample"]


def test_kubernetes_objects_are_admitted(main_template: dict[str, Any], harness: Upstream) -> None:
    """What the kubectl Lambda applies passes the API server's create path (tokens as text)."""
    objects = [
        obj
        for resource in resources_of(main_template, MANIFEST_TYPE).values()
        for obj in manifest_objects(resource)
    ]
    assert len(objects) >= 8
    assert admission_errors(harness, objects) == []


def test_manifests_fit_the_lambda_event(main_template: dict[str, Any]) -> None:
    for logical_id, resource in resources_of(main_template, MANIFEST_TYPE).items():
        size = len(json.dumps(resource["Properties"]["Manifest"]))
        assert size < LAMBDA_EVENT_LIMIT // 2, f"{logical_id}: {size} bytes"


def test_karpenter_waits_for_system_nodes_and_add_ons(main_template: dict[str, Any]) -> None:
    helm = resources_of(main_template, HELM_TYPE)
    karpenter = next(k for k, r in helm.items() if r["Properties"]["Chart"] == "karpenter")
    closure = depends_on_closure(main_template, karpenter)
    assert set(resources_of(main_template, "AWS::EKS::Nodegroup")) <= closure
    addons = {
        r["Properties"]["AddonName"]: k
        for k, r in resources_of(main_template, "AWS::EKS::Addon").items()
    }
    assert addons["eks-pod-identity-agent"] in closure
    assert addons["vpc-cni"] in closure
    assert set(resources_of(main_template, "AWS::EKS::PodIdentityAssociation")) <= closure


def test_gpu_pools_are_deleted_before_karpenter(main_template: dict[str, Any]) -> None:
    """Destroy reverses dependencies: pools must depend on the Karpenter chart and its IAM."""
    helm = resources_of(main_template, HELM_TYPE)
    karpenter = next(k for k, r in helm.items() if r["Properties"]["Chart"] == "karpenter")
    policies = set(resources_of(main_template, "AWS::IAM::ManagedPolicy"))
    for logical_id, resource in resources_of(main_template, MANIFEST_TYPE).items():
        kinds = {o["kind"] for o in manifest_objects(resource)}
        if "NodePool" in kinds:
            closure = depends_on_closure(main_template, logical_id)
            assert karpenter in closure, logical_id
            assert policies <= closure, logical_id


def test_the_app_synthesizes_offline_for_an_account_with_named_zones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cdk deploy` sets CDK_DEFAULT_ACCOUNT/REGION; the stack then has an env, and its VPC
    would look the region's zones up (AWS credentials at synth time) unless they are named."""
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-1")
    build_app = runpy.run_path(str(ROOT / "app.py"))["build_app"]
    app = build_app(str(tmp_path / "out"), context={"availabilityZones": "us-east-1a,us-east-1b"})
    manifest = json.loads((Path(app.synth().directory) / "manifest.json").read_text())
    assert manifest.get("missing", []) == []
    template = json.loads((tmp_path / "out" / "GpuSlicingEks.template.json").read_text())
    zones = {
        r["Properties"]["AvailabilityZone"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::Subnet"
    }
    assert zones == {"us-east-1a", "us-east-1b"}
