"""Workloads read from the manifests users keep: every kind, Lists, folders, standard input,
the pods each controller runs at once, and what the device plugin would refuse."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gpu_sharing import ConfigurationError, GpuPool, Mps, NoSharing, TimeSlicing
from eks_gpu_sharing.setup import GpuSharingSetup
from eks_gpu_sharing.workload_manifests import (
    WorkloadManifests,
    device_plugin_refusals,
    read_workload_manifests,
)


def _pod_spec(gpu: Any = 1, resource: str = "nvidia.com/gpu") -> dict[str, Any]:
    return {
        "containers": [
            {
                "name": "app",
                "image": "example.com/app:1",
                "resources": {
                    "requests": {"cpu": "2", "memory": "8Gi"},
                    "limits": {resource: gpu},
                },
            }
        ],
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
    }


def _template(**kwargs: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "x"}}, "spec": _pod_spec(**kwargs)}


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "chat", "namespace": "ml"},
    "spec": {"replicas": 6, "template": _template()},
}
STATEFUL_SET = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "vector-db"},
    "spec": {"template": _template()},  # replicas defaults to 1
}
JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "embed"},
    "spec": {"parallelism": 8, "completions": 3, "template": _template()},
}
CRON_JOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "nightly"},
    "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": _template()}}},
}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}, "spec": _pod_spec()}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "chat"}, "spec": {}}


def _write(path: Path, *documents: Any) -> Path:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def test_every_workload_kind_runs_its_controllers_pods(tmp_path: Path) -> None:
    path = _write(tmp_path / "all.yaml", DEPLOYMENT, STATEFUL_SET, JOB, CRON_JOB, POD, SERVICE)
    manifests = read_workload_manifests([str(path)])
    pods = {(w.kind, w.namespace, w.name): w.pods for w in manifests.workloads}
    assert pods == {
        ("Deployment", "ml", "chat"): 6,
        ("StatefulSet", "default", "vector-db"): 1,
        ("Job", "default", "embed"): 3,  # parallelism 8, but only 3 completions
        ("CronJob", "default", "nightly"): 1,
        ("Pod", "default", "debug"): 1,
    }
    assert manifests.skipped == {"Service": 1} and manifests.pods == 12
    chat = manifests.workloads[0]
    assert chat.template["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "2"
    assert chat.source == f"{path} document 1"


def test_lists_folders_json_and_standard_input(tmp_path: Path) -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": [DEPLOYMENT, SERVICE, POD]}
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "list.json").write_text(json.dumps(listed))
    _write(folder / "job.yml", JOB)
    (folder / "notes.txt").write_text("not a manifest")
    from_folder = read_workload_manifests([str(folder)])
    assert [w.name for w in from_folder.workloads] == ["embed", "chat", "debug"]  # file order
    stdin = io.StringIO(yaml.safe_dump(listed))
    from_stdin = read_workload_manifests(["-"], stdin=stdin)
    assert [w.name for w in from_stdin.workloads] == ["chat", "debug"]
    assert from_stdin.workloads[0].source == "standard input document 1 item 1"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"kind": "Deployment", "metadata": {"name": "a"}}, "spec"),
        ({"kind": "Deployment", "metadata": {}, "spec": {}}, "metadata.name"),
        (
            {"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": "2"}},
            "spec.replicas",
        ),
        ({"kind": "Job", "metadata": {"name": "a"}, "spec": {"parallelism": -1}}, "parallelism"),
        ({"kind": "CronJob", "metadata": {"name": "a"}, "spec": {}}, "jobTemplate"),
        ({"kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": []}}, "containers"),
        (["not", "a", "manifest"], "kind"),
    ],
)
def test_bad_manifests_name_file_document_and_field(
    tmp_path: Path, document: Any, field: str
) -> None:
    path = _write(tmp_path / "bad.yaml", DEPLOYMENT, document)
    with pytest.raises(ConfigurationError) as caught:
        read_workload_manifests([str(path)])
    assert caught.value.field.startswith(f"--workloads {path} document 2: ")
    assert field in caught.value.field


def test_no_workload_at_all_is_an_error_that_says_what_was_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "svc.yaml", SERVICE, SERVICE)
    with pytest.raises(ConfigurationError, match="skipped 2 Service"):
        read_workload_manifests([str(path)])
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        read_workload_manifests(["-"], stdin=io.StringIO("a: [b"))
    with pytest.raises(ConfigurationError, match="does not exist") as caught:
        read_workload_manifests([str(tmp_path / "missing.yaml")])
    assert caught.value.field == "--workloads"
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9".encode("latin-1"))
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        read_workload_manifests([str(tmp_path / "latin1.yaml")])


SHARED = GpuPool("shared", gpu_names=["l4"], sharing=TimeSlicing(replicas=4))
MULTI = GpuPool(
    "multi",
    gpu_names=["l4"],
    sharing=TimeSlicing(replicas=4, fail_requests_greater_than_one=False),
)
WHOLE = GpuPool("whole", gpu_names=["a10g"], sharing=NoSharing())
MPS = GpuPool("mps", gpu_names=["l4"], sharing=Mps(replicas=2, rename_by_default=True))


def _manifests(*templates: dict[str, Any]) -> WorkloadManifests:
    workloads = []
    for index, spec in enumerate(templates):
        document = {"kind": "Pod", "metadata": {"name": f"p{index}"}, "spec": spec}
        workloads.extend(
            read_workload_manifests(["-"], stdin=io.StringIO(yaml.safe_dump(document))).workloads
        )
    return WorkloadManifests(tuple(workloads), {})


def test_the_device_plugins_refusals_are_named_before_scheduling() -> None:
    two_slices = _pod_spec(gpu=2)
    two_shared = _pod_spec(gpu="2", resource="nvidia.com/gpu.shared")
    one_shared = _pod_spec(gpu=1, resource="nvidia.com/gpu.shared")
    only_failing = GpuSharingSetup.for_pools([SHARED])
    refused = device_plugin_refusals(_manifests(two_slices, one_shared), only_failing)
    assert [(w.name, reason.split(":")[0]) for w, reason in refused] == [
        ("p0", "app/nvidia.com/gpu=2"),
        ("p1", "app/nvidia.com/gpu.shared"),
    ]
    assert "failRequestsGreaterThanOne) on shared" in refused[0][1]
    assert "no pool advertises nvidia.com/gpu.shared" in refused[1][1]
    # A pool that takes them (several slices allowed; a renamed pool) leaves nothing to refuse,
    # while two MPS shares are refused there: MPS always fails requests for more than one.
    others = GpuSharingSetup.for_pools([MULTI, WHOLE, MPS])
    refused = device_plugin_refusals(_manifests(two_slices, one_shared, two_shared), others)
    assert [(w.name, reason.split(":")[0]) for w, reason in refused] == [
        ("p2", "app/nvidia.com/gpu.shared=2")
    ]
