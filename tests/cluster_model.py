"""What a cluster holds after deploys and updates, as the tools that change it leave it.

* The CDK path: CloudFormation creates and updates the resources of the new template, then
  deletes those the old one had and the new one lacks. aws-cdk-lib's kubectl handler
  (``custom-resource-handlers/dist/aws-eks/kubectl-handler/apply/__init__.py`` in aws-cdk-lib)
  runs ``kubectl create --save-config`` on create (``kubectl apply`` with ``Overwrite``),
  ``kubectl apply --prune -l <PruneLabel>`` on update and ``kubectl delete -f`` of the old
  manifest on delete. ``--prune`` with no allowlist deletes only kubectl's default kinds (asked
  from kubectl's own ``prune.GetRESTMappings`` through the upstream harness).
* The plain-YAML path: ``kubectl apply -f <folder>/`` creates or replaces the objects of the
  folder's top-level ``.yaml``/``.yml``/``.json`` files and deletes nothing.

Objects are whole documents: an apply replaces what the manifest sets, which is everything these
objects have.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from eks_gpu_sharing.upstream import Upstream
from tests.cdk_helpers import MANIFEST_TYPE, manifest_objects, resources_of

#: (group, kind, namespace, name)
ObjectKey = tuple[str, str, str, str]
KARPENTER_KINDS = frozenset({"NodePool", "EC2NodeClass", "NodeOverlay"})


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    metadata = obj["metadata"]
    return (
        obj["apiVersion"].rpartition("/")[0],
        obj["kind"],
        metadata.get("namespace", ""),
        metadata["name"],
    )


@dataclass(frozen=True)
class ManifestResource:
    """One ``Custom::AWSCDK-EKS-KubernetesResource``: what its handler applies."""

    objects: tuple[str, ...]  # JSON of each object, so resources compare by content
    prune_label: str | None
    overwrite: bool

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.objects]


def template_manifests(template: Mapping[str, Any]) -> dict[str, ManifestResource]:
    """The manifest resources of a synthesized template, by logical id."""
    found = {}
    for logical_id, resource in resources_of(dict(template), MANIFEST_TYPE).items():
        properties = resource["Properties"]
        found[logical_id] = ManifestResource(
            objects=tuple(json.dumps(o, sort_keys=True) for o in manifest_objects(resource)),
            prune_label=properties.get("PruneLabel"),
            overwrite=str(properties.get("Overwrite", "false")).lower() == "true",
        )
    return found


def default_pruned_kinds(harness: Upstream) -> frozenset[tuple[str, str]]:
    """(group, kind) that ``kubectl apply --prune`` deletes without ``--prune-allowlist``."""
    return frozenset((k["group"], k["kind"]) for k in harness.prune_kinds())


class AlreadyExistsError(Exception):
    """``kubectl create`` of an object that exists: the deploy fails."""


@dataclass
class Cluster:
    """The objects on a cluster, by key."""

    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def loaded(cls, files: Mapping[str, bytes]) -> Cluster:
        """A new cluster with ``kubectl apply -f <folder>/`` of ``files``."""
        cluster = cls()
        cluster.apply_folder(files)
        return cluster

    def karpenter_objects(self) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o["kind"] in KARPENTER_KINDS]

    # -- CloudFormation and aws-cdk-lib's kubectl handler --------------------------------------

    def deploy_stack(
        self,
        old: Mapping[str, ManifestResource],
        new: Mapping[str, ManifestResource],
        pruned_kinds: frozenset[tuple[str, str]],
    ) -> None:
        for logical_id, resource in new.items():
            if logical_id not in old:
                self._create(resource)
            elif resource != old[logical_id]:
                self._update(old[logical_id], resource, pruned_kinds)
        # CloudFormation's cleanup phase: after every create and update.
        for logical_id, resource in old.items():
            if logical_id not in new:
                self._delete(resource.documents())

    def _create(self, resource: ManifestResource) -> None:
        for obj in resource.documents():
            key = object_key(obj)
            if key in self.objects and not resource.overwrite:
                raise AlreadyExistsError(key)
            self.objects[key] = obj

    def _update(
        self,
        old: ManifestResource,
        new: ManifestResource,
        pruned_kinds: frozenset[tuple[str, str]],
    ) -> None:
        applied = {object_key(obj): obj for obj in new.documents()}
        self.objects.update(applied)
        if new.prune_label is None:
            return
        for obj in old.documents():
            key = object_key(obj)
            if key not in applied and (key[0], key[1]) in pruned_kinds:
                self.objects.pop(key, None)

    def _delete(self, documents: Iterable[Mapping[str, Any]]) -> None:
        for obj in documents:
            self.objects.pop(object_key(obj), None)

    # -- kubectl on a folder -----------------------------------------------------------------

    def apply_folder(
        self,
        files: Mapping[str, bytes],
        *,
        prune_label: tuple[str, str] | None = None,
        prune_kinds: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        """``kubectl apply -f <folder>/``: top-level files only, nothing deleted; with
        ``prune_label`` (key, value) and ``prune_kinds``, ``--prune -l key=value`` with that
        ``--prune-allowlist``: objects of those kinds with the label that the folder no longer
        holds are deleted."""
        applied = {}
        for name, content in files.items():
            if "/" in name or not name.endswith((".yaml", ".yml", ".json")):
                continue
            for obj in yaml.safe_load_all(content):
                if obj:
                    applied[object_key(obj)] = obj
        self.objects.update(applied)
        if prune_label is None:
            return
        key_name, value = prune_label
        for key, obj in list(self.objects.items()):
            labels = obj["metadata"].get("labels", {})
            if (
                key not in applied
                and (key[0], key[1]) in prune_kinds
                and labels.get(key_name) == value
            ):
                del self.objects[key]

    def kubectl_delete(self, command: str) -> None:
        """Run one ``kubectl delete <kind>.<group>/<name> [-n <namespace>]`` line."""
        words = command.split()
        assert words[:2] == ["kubectl", "delete"], command
        resource, _, name = words[2].partition("/")
        kind, _, group = resource.partition(".")
        namespace = words[words.index("-n") + 1] if "-n" in words else ""
        matches = [
            key
            for key in self.objects
            if key[0] == group and key[1].lower() == kind and key[2] == namespace and key[3] == name
        ]
        assert matches, f"{command}: no such object"
        for key in matches:
            del self.objects[key]
