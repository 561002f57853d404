"""A CUDA n-body Job that shows several pods sharing one GPU of a pool, then lets it go."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Final

import cdk8s
from cdk8s_plus_36 import k8s
from constructs import Construct

from ..dra import claim_template, claim_template_name
from ..errors import GPU_POOL_EXAMPLE, ConfigurationError, require_instance
from ..k8s_namespaces import SAMPLE_WORKLOAD_NAMESPACE
from ..kubernetes_names import require_name
from ..labels import POOL_LABEL
from ..plan import sample_replicas
from ..pool import GpuPool
from ..versions import SAMPLE_WORKLOAD_IMAGE
from .common import CHART_PROPS, PodSecurityLevels, namespace_object

#: Pod Security Standard labels of the sample's namespace: enforce and warn ``baseline`` (the
#: CUDA image runs as root), audit ``restricted``.
SAMPLE_POD_SECURITY: Final = PodSecurityLevels(
    enforce="baseline", warn="baseline", audit="restricted"
)

#: Bodies per n-body run: a few seconds on a T4 alone, proportionally longer when shared.
SAMPLE_NUM_BODIES: Final = 262144
#: Seconds between two benchmark runs of one pod.
SAMPLE_PAUSE_SECONDS: Final = 5
#: How long each pod benchmarks before it exits: long enough to read the logs, short enough
#: that the GPU node goes (Karpenter consolidates an empty node) instead of running all day.
SAMPLE_DURATION_SECONDS: Final = 600
#: The Job gives up after this long, Pending included: a pool that cannot launch a node (limit
#: reached, no capacity) does not keep Karpenter trying forever.
SAMPLE_DEADLINE_SECONDS: Final = 3600
_CONTAINER = "nbody"
# An image reference as the container runtime parses it (github.com/distribution/reference,
# regexp.go): [registry[:port]/]path[:tag][@sha256:digest], path components lowercase.
_IMAGE: Final = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"(?::[0-9]{1,5})?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?",
    re.ASCII,
)


def sample_workload_name(pool: GpuPool) -> str:
    """The ``app.kubernetes.io/name`` label of the sample's pods on ``pool`` (and the prefix of
    its Job's name): ``kubectl logs -l app.kubernetes.io/name=<pool>-sample``."""
    return f"{pool.name}-sample"


def sample_script(
    num_bodies: int = SAMPLE_NUM_BODIES, duration_seconds: int = SAMPLE_DURATION_SECONDS
) -> str:
    """The container's ``bash -c`` script: proof of GPU access, then benchmark lines for
    ``duration_seconds``, then exit 0."""
    return "\n".join(
        [
            "trap 'exit 0' TERM",
            'echo "pod=${POD_NAME} node=${NODE_NAME}"',
            "nvidia-smi -L || echo 'nvidia-smi is not available in this container'",
            'echo "NVIDIA_VISIBLE_DEVICES=${NVIDIA_VISIBLE_DEVICES}"',
            f"end=$((SECONDS + {duration_seconds}))",
            'while [ "$SECONDS" -lt "$end" ]; do',
            f"  result=$(/tmp/sample --benchmark --numbodies={num_bodies} 2>&1 "
            "| grep 'GFLOP/s' || echo 'benchmark failed')",
            '  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) ${POD_NAME} ${result}"',
            # `sleep & wait` lets the TERM trap run at once instead of after the sleep.
            f"  sleep {SAMPLE_PAUSE_SECONDS} & wait $!",
            "done",
            'echo "done after ${SECONDS}s"',
            "",
        ]
    )


class SampleWorkloadChart(cdk8s.Chart):
    """A CUDA n-body Job ``<pool>-sample-<hash>`` on one pool, one slice per pod.

    By default it runs as many pods as one node of the pool's smallest instance has slices, so
    ``kubectl get pods -o wide`` shows them all on one node and their logs show each pod's
    share of the GPU (``... GFLOP/s``). Each pod benchmarks for ``SAMPLE_DURATION_SECONDS`` and
    exits; the empty node is then Karpenter's to consolidate. The Job's name ends in a hash of
    its spec: a Job's pod template cannot change, so a changed sample is a new Job (the old
    one, finished, is pruned on the CDK path and listed by ``eks-gpu-sharing synth``).

    On a DRA pool each pod asks for its share through a ResourceClaim made from the pool's
    ResourceClaimTemplate ``<pool>-gpu`` (``<pool>-gpu-<N>gib`` for memory shares; written into
    the namespace with the Job): copy it into the namespaces of your own workloads.

    The namespace enforces the ``baseline`` Pod Security Standard (the CUDA sample image runs
    as root, which ``restricted`` forbids) and audits ``restricted``.

    :param pool: The pool to run on.
    :param replicas: Pods (one slice each). Default: slices per GPU x smallest GPU count.
    :param namespace: Default: ``gpu-sharing-demo``.
    :param create_namespace: Also create the namespace. Default: True.
    :param image: Default: the pinned ``versions.SAMPLE_WORKLOAD_IMAGE``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pool: GpuPool,
        replicas: int | None = None,
        namespace: str = SAMPLE_WORKLOAD_NAMESPACE,
        create_namespace: bool = True,
        image: str = SAMPLE_WORKLOAD_IMAGE,
    ) -> None:
        require_instance(pool, GpuPool, field="SampleWorkloadChart.pool", fix=GPU_POOL_EXAMPLE)
        require_name("SampleWorkloadChart.namespace", namespace, fix="use e.g. 'gpu-sharing-demo'")
        replicas = sample_replicas(pool, replicas)
        if not _is_pinned(image):
            raise ConfigurationError(
                field="SampleWorkloadChart.image",
                value=image,
                rule="the image must be pinned (a tag other than latest, or a digest)",
                fix=f"use e.g. {SAMPLE_WORKLOAD_IMAGE}",
            )
        super().__init__(scope, id, namespace=namespace, **CHART_PROPS)
        self.pool = pool
        self.replicas = replicas
        self.namespace_object: k8s.KubeNamespace | None = None
        if create_namespace:
            self.namespace_object = namespace_object(
                self, "namespace", namespace, pod_security=SAMPLE_POD_SECURITY
            )
        #: The pool's ResourceClaimTemplate (DRA pools), which the pods name; else None.
        self.claim_template: cdk8s.ApiObject | None = None
        if pool.uses_dra:
            template = claim_template(pool.name, namespace, pool.sharing)
            self.claim_template = cdk8s.ApiObject(
                self,
                "claim-template",
                api_version=template["apiVersion"],
                kind=template["kind"],
                metadata=cdk8s.ApiObjectMetadata(name=template["metadata"]["name"]),
            )
            self.claim_template.add_json_patch(cdk8s.JsonPatch.add("/spec", template["spec"]))
        labels = {"app.kubernetes.io/name": sample_workload_name(pool)}
        spec = k8s.JobSpec(
            completions=replicas,
            parallelism=replicas,
            backoff_limit=replicas,
            active_deadline_seconds=SAMPLE_DEADLINE_SECONDS,
            template=k8s.PodTemplateSpec(
                metadata=k8s.ObjectMeta(labels=labels),
                spec=self._pod_spec(image),
            ),
        )
        #: The Job's name: ``<pool>-sample-`` and the first 8 hex digits of its spec's SHA-256.
        self.job_name = f"{sample_workload_name(pool)}-{_digest(spec)}"
        self.job = k8s.KubeJob(
            self, "job", metadata=k8s.ObjectMeta(name=self.job_name, labels=labels), spec=spec
        )

    def _pod_spec(self, image: str) -> k8s.PodSpec:
        pool = self.pool
        # One slice per pod: the extended resource (`failRequestsGreaterThanOne` rejects more),
        # or on a DRA pool one claim of the pool's template (one share, or its memory).
        gpu_limit = {} if pool.uses_dra else {pool.resource_name: k8s.Quantity.from_string("1")}
        claims = (
            [
                k8s.PodResourceClaim(
                    name=_CLAIM,
                    resource_claim_template_name=claim_template_name(pool.name, pool.sharing),
                )
            ]
            if pool.uses_dra
            else None
        )
        return k8s.PodSpec(
            resource_claims=claims,
            restart_policy="Never",
            node_selector={POOL_LABEL: pool.name},
            tolerations=[_toleration(taint) for taint in pool.node_taints()],
            automount_service_account_token=False,
            termination_grace_period_seconds=10,
            # The CUDA sample image runs as root; everything else is locked down.
            security_context=k8s.PodSecurityContext(
                seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault")
            ),
            containers=[
                k8s.Container(
                    name=_CONTAINER,
                    image=image,
                    image_pull_policy="IfNotPresent",
                    command=["bash", "-c", sample_script()],
                    env=[
                        _field_env("POD_NAME", "metadata.name"),
                        _field_env("NODE_NAME", "spec.nodeName"),
                    ],
                    resources=k8s.ResourceRequirements(
                        requests={
                            "cpu": k8s.Quantity.from_string("250m"),
                            "memory": k8s.Quantity.from_string("256Mi"),
                        },
                        limits={**gpu_limit, "memory": k8s.Quantity.from_string("1Gi")},
                        claims=[k8s.ResourceClaim(name=_CLAIM)] if claims else None,
                    ),
                    security_context=k8s.SecurityContext(
                        allow_privilege_escalation=False,
                        privileged=False,
                        read_only_root_filesystem=False,
                        run_as_non_root=False,
                        capabilities=k8s.Capabilities(drop=["ALL"]),
                    ),
                )
            ],
        )


#: The pod's claim of the pool's ResourceClaimTemplate (DRA pools).
_CLAIM: Final = "gpu"


def _digest(spec: k8s.JobSpec) -> str:
    """SHA-256 (8 hex digits) of the spec as it will be synthesized (rendered in a scratch app,
    so that any change to the generated template changes the name)."""
    scratch = cdk8s.Chart(cdk8s.App(), "digest")
    rendered = k8s.KubeJob(scratch, "job", spec=spec).to_json()["spec"]
    canonical = json.dumps(rendered, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def _is_pinned(image: object) -> bool:
    """True for a well-formed ``repo@sha256:...`` or ``repo:tag`` with a tag other than latest."""
    match = _IMAGE.fullmatch(image) if isinstance(image, str) else None
    return match is not None and (
        match["digest"] is not None or match["tag"] not in (None, "latest")
    )


def _toleration(taint: dict[str, str]) -> k8s.Toleration:
    if "value" in taint:
        return k8s.Toleration(
            key=taint["key"], operator="Equal", value=taint["value"], effect=taint["effect"]
        )
    return k8s.Toleration(key=taint["key"], operator="Exists", effect=taint["effect"])


def _field_env(name: str, field_path: str) -> k8s.EnvVar:
    return k8s.EnvVar(
        name=name,
        value_from=k8s.EnvVarSource(field_ref=k8s.ObjectFieldSelector(field_path=field_path)),
    )
