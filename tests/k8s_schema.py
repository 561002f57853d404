"""Validate synthesized Kubernetes objects the way a Kubernetes 1.36 API server would.

Two kinds of objects are covered, and anything else is an error ("no schema for ..."), so
nothing passes unchecked:

* Built-in kinds (Namespace, ConfigMap, Deployment, ...) are checked against the Kubernetes 1.36
  OpenAPI schema shipped by the ``kubernetes-validate`` package, in its strict flavour (unknown
  fields are errors), plus the few API-server checks written in Go that manifests commonly trip
  over: object names, label and annotation keys, container images and names, workload selectors
  matching their template labels, ConfigMap keys.
* Karpenter v1.14.1 kinds (NodePool, NodeClaim, NodeOverlay, EC2NodeClass) are checked against the
  CRDs in ``../shared/reference/karpenter-v1.14.1/crds``, the way the API server does on create
  with ``fieldValidation=Strict``: unknown fields are errors, nulls are pruned, defaults applied,
  then the structural schema is validated (jsonschema, RE2 patterns) and, when that leaves no
  blocking error, every ``x-kubernetes-validations`` CEL rule is evaluated with ``cel-python``.
  Transition rules (those reading ``oldSelf``) only run on update and are skipped and counted.

Entry points: :func:`validate_objects`, :func:`validate_yaml_documents`, :func:`validate_report`
(errors plus CEL counters), :func:`load_crd_schemas`, :func:`crd_rule_inventory`, and for tests
of the machinery itself :func:`cel_errors`, :func:`evaluate_cel` and :func:`to_json_schema`.

cel-python lacks some Kubernetes CEL libraries; :data:`CEL_FUNCTIONS` adds the ones these CRDs
use (``split``, ``find``) and a few more. A rule calling anything else is listed in
:data:`UNSUPPORTED_RULES` and reported as an error when reached, never passed silently.
"""

from __future__ import annotations

import base64
import copy
import datetime
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import lark
import pytest
import re2
import yaml
from celpy import celtypes
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

KUBERNETES_VERSION = "1.36"
KARPENTER_VERSION = "v1.14.1"
CRD_DIR = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "reference"
    / f"karpenter-{KARPENTER_VERSION}"
    / "crds"
)
# API groups served by the CRDs above: objects in them need the CRDs, never the built-in schemas.
CRD_GROUPS = frozenset({"karpenter.sh", "karpenter.k8s.aws"})

DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
OBJECT_META_REF = f"{DEFINITIONS_URI}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
CEL_BLOCKED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)
# jsonschema keywords whose failures make the API server skip CEL (strategy.go hasBlockingErr:
# NotSupported, Required, TooLong, TooMany, TypeInvalid).
BLOCKING_KEYWORDS = frozenset(
    {"type", "enum", "required", "maxLength", "maxItems", "maxProperties"}
)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    """Errors found, plus how many CEL rule evaluations ran, were skipped or unsupported."""

    errors: list[str] = field(default_factory=list)
    cel_evaluated: int = 0
    cel_skipped_transition: int = 0
    cel_unsupported: int = 0


@dataclass(frozen=True)
class UnsupportedRule:
    """A CRD rule this module cannot evaluate, and why."""

    crd: str
    path: str
    rule: str
    reason: str


@dataclass(frozen=True)
class RuleInventory:
    """Static counts over every ``x-kubernetes-validations`` rule of the loaded CRDs."""

    total: int
    transition: int
    evaluable: int
    unsupported: int


# Rules of the loaded CRDs that cannot be evaluated here (filled by load_crd_schemas). The test
# suite asserts every entry is documented in DOCUMENTED_UNSUPPORTED_RULES (rule text -> reason);
# an undocumented one hit during validation is also reported as an error, never passed silently.
UNSUPPORTED_RULES: list[UnsupportedRule] = []
DOCUMENTED_UNSUPPORTED_RULES: dict[str, str] = {}


# --------------------------------------------------------------------------------------------
# Paths and messages
# --------------------------------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _join(path: str, key: str | int) -> str:
    """Extend a field path: ``spec.a`` + ``b`` -> ``spec.a.b``; list indexes and keys that are
    not plain identifiers (``nvidia.com/gpu``) go in brackets: ``spec.capacity[nvidia.com/gpu]``.
    Property names and map keys are written alike, whichever of the three checks reports them."""
    if isinstance(key, int) or not _PLAIN_KEY.match(key):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _path_of(parts: Iterable[str | int], prefix: str = "") -> str:
    path = prefix
    for part in parts:
        path = _join(path, part)
    return path


def _label(obj: Mapping[str, Any]) -> str:
    """``<kind>/<name>`` for error messages, tolerant of malformed objects."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f"{obj.get('kind') or '<no kind>'}/{name or '<no name>'}"


def _schema_error_messages(
    error: jsonschema.ValidationError, prefix: str = ""
) -> Iterator[tuple[str, str]]:
    """(path, message) pairs for one jsonschema error, worded like the API server for the two
    cases that matter most: unknown fields and missing required fields."""
    parent = _path_of(error.absolute_path, prefix)
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = error.schema.get("properties", {})
        for key in error.instance:
            if key not in known:
                yield _join(parent, key), f'unknown field "{key}"'
        return
    if error.validator == "required":
        missing = re.match(r"^'(.*)' is a required property$", error.message)
        if missing:
            yield _join(parent, missing.group(1)), "Required value"
            return
    yield parent or "<root>", error.message


# --------------------------------------------------------------------------------------------
# Built-in kinds: kubernetes-validate's strict OpenAPI schemas
# --------------------------------------------------------------------------------------------


@functools.cache
def _core_schema_dir() -> Any:
    """The strict schema folder of kubernetes-validate for KUBERNETES_VERSION (e.g. v1.36.0)."""
    versions = [v for v in kv_utils.all_versions() if kv_utils.major_minor(v) == KUBERNETES_VERSION]
    if not versions:
        raise RuntimeError(
            f"kubernetes-validate ships no {KUBERNETES_VERSION} schemas "
            f"(it has {kv_utils.all_versions()})"
        )
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    return root / f"v{versions[-1]}-local-strict"


@functools.cache
def _core_registry() -> Registry:
    definitions = json.loads((_core_schema_dir() / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


def _api_group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@functools.cache
def _core_validator(api_version: str, kind: str) -> jsonschema.Validator | None:
    """A validator for a built-in top-level kind, or None when 1.36 has no such kind."""
    slug = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = _core_schema_dir() / f"{kind.lower()}-{slug}.json"
    if not schema_file.is_file():
        return None
    schema = json.loads(schema_file.read_text())
    group, version = _api_group_version(api_version)
    gvks = schema.get("x-kubernetes-group-version-kind", [])
    if {"group": group, "version": version, "kind": kind} not in gvks:
        return None  # a sub-type (Container, ObjectMeta, ...) or a look-alike group
    registry = Resource.from_contents(schema) @ _core_registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _object_meta_validator() -> jsonschema.Validator:
    """The strict ObjectMeta schema, used for the ``metadata`` of custom resources."""
    return jsonschema.Draft202012Validator({"$ref": OBJECT_META_REF}, registry=_core_registry())


# --------------------------------------------------------------------------------------------
# API-server checks written in Go (not in any OpenAPI schema)
# --------------------------------------------------------------------------------------------

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_WORKLOAD_KINDS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"})


def dns_label_error(value: str) -> str | None:
    """Why ``value`` is not an RFC 1123 label (Namespace names, container names), or None."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        return "must be a lowercase RFC 1123 label (at most 63 of [a-z0-9-], alphanumeric ends)"
    return None


def dns_subdomain_error(value: str) -> str | None:
    """Why ``value`` is not an RFC 1123 subdomain (most object names), or None."""
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        return (
            "must be a lowercase RFC 1123 subdomain (at most 253 of [a-z0-9-.], alphanumeric ends)"
        )
    return None


def _dns_1035_error(value: str) -> str | None:
    if len(value) > 63 or not _DNS_1035_LABEL.match(value):
        return "must be an RFC 1035 label (at most 63 of [a-z0-9-], starting with a letter)"
    return None


def _path_segment_error(value: str) -> str | None:
    if value in {".", ".."} or "/" in value or "%" in value:
        return "may not be '.' or '..' and may not contain '/' or '%'"
    return None


def qualified_name_error(key: str) -> str | None:
    """Why ``key`` is not a valid label/annotation key (``[prefix/]name``), or None."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or dns_subdomain_error(prefix)):
        return "prefix must be a DNS subdomain"
    if len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return "name part must be at most 63 of [A-Za-z0-9-_.] with alphanumeric ends"
    return None


# Name rules per kind (validation.go of each API group); the default is a DNS subdomain.
_NAME_RULES: dict[str, Callable[[str], str | None]] = {
    "Namespace": dns_label_error,
    "Service": _dns_1035_error,
    "Role": _path_segment_error,
    "ClusterRole": _path_segment_error,
    "RoleBinding": _path_segment_error,
    "ClusterRoleBinding": _path_segment_error,
}


def _metadata_errors(obj: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Name, namespace, label and annotation checks of ValidateObjectMeta.

    ``metadata.name`` is required: manifests are applied (kubectl apply, CDK manifests), and
    apply cannot use ``generateName``.
    """
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        yield "metadata", "Required value"
        return
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        yield "metadata.name", "Required value: name is required"
    else:
        problem = _NAME_RULES.get(obj.get("kind", ""), dns_subdomain_error)(name)
        if problem:
            yield "metadata.name", f'Invalid value: "{name}": {problem}'
    namespace = metadata.get("namespace")
    if isinstance(namespace, str) and namespace and dns_label_error(namespace):
        yield "metadata.namespace", f'Invalid value: "{namespace}": {dns_label_error(namespace)}'
    yield from _labels_errors(metadata.get("labels"), "metadata.labels")
    yield from _annotations_errors(metadata.get("annotations"), "metadata.annotations")


def _labels_errors(labels: Any, path: str) -> Iterator[tuple[str, str]]:
    if not isinstance(labels, Mapping):
        return
    for key, value in labels.items():
        problem = qualified_name_error(str(key))
        if problem:
            yield _join(path, str(key)), f'Invalid value: "{key}": {problem}'
        if isinstance(value, str) and (len(value) > 63 or not _LABEL_VALUE.match(value)):
            yield (
                _join(path, str(key)),
                f'Invalid value: "{value}": a label value must be empty or at most 63 of '
                "[A-Za-z0-9-_.] with alphanumeric ends",
            )


def _annotations_errors(annotations: Any, path: str) -> Iterator[tuple[str, str]]:
    if not isinstance(annotations, Mapping):
        return
    for key in annotations:
        problem = qualified_name_error(str(key).lower())
        if problem:
            yield _join(path, str(key)), f'Invalid value: "{key}": {problem}'
    size = sum(len(str(k)) + len(str(v or "")) for k, v in annotations.items())
    if size > 256 * 1024:
        yield path, f"Too long: must have at most 262144 bytes, has {size}"


def _pod_spec_path(kind: str) -> tuple[str, ...] | None:
    if kind == "Pod":
        return ("spec",)
    if kind in _WORKLOAD_KINDS or kind == "Job":
        return ("spec", "template", "spec")
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template", "spec")
    return None


def _dig(obj: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _pod_spec_errors(obj: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Containers need a DNS-label name, unique per pod, and an image (ValidatePodSpec)."""
    keys = _pod_spec_path(obj.get("kind", ""))
    pod_spec = _dig(obj, keys) if keys else None
    if not isinstance(pod_spec, Mapping):
        return
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        containers = pod_spec.get(group)
        for index, container in enumerate(containers if isinstance(containers, list) else []):
            if not isinstance(container, Mapping):
                continue
            path = f"{'.'.join(keys)}.{group}[{index}]"
            name = container.get("name")
            if isinstance(name, str) and name:
                if dns_label_error(name):
                    yield f"{path}.name", f'Invalid value: "{name}": {dns_label_error(name)}'
                if name in seen:
                    yield f"{path}.name", f'Duplicate value: "{name}"'
                seen.add(name)
            if not container.get("image"):
                yield f"{path}.image", "Required value"


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """metav1.LabelSelector semantics: matchLabels and every matchExpression must hold."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _workload_selector_errors(obj: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """apps/v1 workloads need a non-empty selector that matches their template labels."""
    if obj.get("kind") not in _WORKLOAD_KINDS:
        return
    selector = _dig(obj, ("spec", "selector"))
    if not isinstance(selector, Mapping):
        return  # the OpenAPI schema already reports a missing selector
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        yield "spec.selector", "Invalid value: empty selector is invalid"
        return
    labels = _dig(obj, ("spec", "template", "metadata", "labels")) or {}
    if isinstance(labels, Mapping) and not _selector_matches(selector, labels):
        yield (
            "spec.template.metadata.labels",
            "Invalid value: selector does not match template labels",
        )


def _config_map_errors(obj: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """ConfigMap keys must be config keys, and unique across data and binaryData."""
    if obj.get("kind") != "ConfigMap":
        return
    seen: set[str] = set()
    for section in ("data", "binaryData"):
        entries = obj.get(section)
        for key in entries if isinstance(entries, Mapping) else {}:
            path = _join(section, str(key))
            if len(str(key)) > 253 or not _CONFIG_KEY.match(str(key)):
                yield (
                    path,
                    f'Invalid value: "{key}": a valid config key must consist of [-._a-zA-Z0-9]',
                )
            if key in seen:
                yield path, f'Duplicate value: "{key}"'
            seen.add(key)


def _go_side_errors(obj: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    yield from _metadata_errors(obj)
    yield from _pod_spec_errors(obj)
    yield from _workload_selector_errors(obj)
    yield from _config_map_errors(obj)


# --------------------------------------------------------------------------------------------
# CRDs: loading and translating structural schemas to JSON Schema
# --------------------------------------------------------------------------------------------


def _re2_pattern(
    validator: jsonschema.Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    """``pattern`` with Go's RE2 semantics (the API server's), not Python's ``re``."""
    if validator.is_type(instance, "string") and not _compile_re2(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _compile_re2(pattern: str) -> Any:
    return re2.compile(pattern)


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _k8s_format(
    validator: jsonschema.Validator, fmt: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    """Only ``date-time`` occurs on strings in these CRDs; int32/int64 are not checked by the
    API server either (go-openapi formats apply to strings only)."""
    if fmt == "date-time" and isinstance(instance, str) and _parse_timestamp(instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} is not a valid date-time (RFC 3339)")


def _parse_timestamp(text: str) -> datetime.datetime | None:
    if not _RFC3339.match(text):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _list_type(
    validator: jsonschema.Validator, list_type: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    """``x-kubernetes-list-type``: ``set`` items and ``map`` keys must be unique."""
    if not validator.is_type(instance, "array") or list_type not in {"set", "map"}:
        return
    keys = schema.get("x-kubernetes-list-map-keys", [])
    seen: set[str] = set()
    for item in instance:
        if list_type == "map" and isinstance(item, Mapping):
            identity = _json_key({k: item.get(k) for k in keys})
        else:
            identity = _json_key(item)
        if identity in seen:
            yield jsonschema.ValidationError(f"Duplicate value: {identity}")
        seen.add(identity)


# Draft 4 matches OpenAPI v3 best (boolean exclusiveMinimum, 1.0 is not an integer).
CrdSchemaValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator,
    validators={
        "pattern": _re2_pattern,
        "format": _k8s_format,
        "x-kubernetes-list-type": _list_type,
    },
)

_DROPPED_KEYS = frozenset({"description", "default", "x-kubernetes-validations", "nullable"})


def to_json_schema(node: Mapping[str, Any], *, root: bool = False) -> dict[str, Any]:
    """Translate a structural schema node to JSON Schema with the API server's semantics.

    * ``x-kubernetes-int-or-string`` -> ``type: [integer, string]``
    * ``nullable: true`` -> null allowed
    * an object without ``additionalProperties`` and without
      ``x-kubernetes-preserve-unknown-fields`` gets ``additionalProperties: false``: the API
      server prunes unknown fields, and with ``fieldValidation=Strict`` rejects them
    * ``x-kubernetes-embedded-resource`` -> apiVersion/kind/metadata allowed
    * at the root, apiVersion and kind are always allowed, and ``metadata`` is left open here:
      it is checked against ObjectMeta separately
    """
    out = {key: value for key, value in node.items() if key not in _DROPPED_KEYS}
    if "properties" in node:
        out["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), Mapping):
            out[key] = to_json_schema(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            out[key] = [to_json_schema(branch) for branch in node[key]]
    if node.get("x-kubernetes-int-or-string"):
        if all(set(branch) == {"type"} for branch in node.get("anyOf", [])):
            out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if node.get("x-kubernetes-embedded-resource"):
        embedded = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}
        out["properties"] = {
            **embedded,
            "metadata": {"type": "object"},
            **out.get("properties", {}),
        }
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if node.get("type") == "object" and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    if root:  # apiVersion and kind are always allowed at the root, whatever the CRD says
        properties = out.setdefault("properties", {})
        properties.update(apiVersion={"type": "string"}, kind={"type": "string"})
        properties["metadata"] = {"type": "object"}
    return out


@dataclass(frozen=True)
class CrdVersion:
    """One version entry of a CRD: its structural schema and a ready JSON Schema validator."""

    crd: str
    api_version: str
    kind: str
    served: bool
    schema: Mapping[str, Any]
    validator: jsonschema.Validator


def load_crd_schemas(crd_dir: Path | None = None) -> dict[tuple[str, str], CrdVersion]:
    """Every version of every CRD in ``crd_dir`` (default CRD_DIR), keyed (apiVersion, kind).

    Loaded once per folder. Calls ``pytest.skip`` when the folder is missing: the CRDs live in
    the shared reference checkout, never in this project.
    """
    crd_dir = crd_dir or CRD_DIR
    if not crd_dir.is_dir():
        pytest.skip(f"Karpenter {KARPENTER_VERSION} CRDs not found at {crd_dir}")
    return _load_crd_schemas(crd_dir)


@functools.cache
def _load_crd_schemas(crd_dir: Path) -> dict[tuple[str, str], CrdVersion]:
    schemas: dict[tuple[str, str], CrdVersion] = {}
    for crd_file in sorted(crd_dir.glob("*.yaml")):
        for crd in yaml.safe_load_all(crd_file.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                api_version = f"{spec['group']}/{version['name']}"
                schema = version["schema"]["openAPIV3Schema"]
                schemas[(api_version, spec["names"]["kind"])] = CrdVersion(
                    crd=crd["metadata"]["name"],
                    api_version=api_version,
                    kind=spec["names"]["kind"],
                    served=bool(version.get("served")),
                    schema=schema,
                    validator=CrdSchemaValidator(to_json_schema(schema, root=True)),
                )
    for entry in schemas.values():
        UNSUPPORTED_RULES.extend(
            problem for problem in _unsupported_in(entry) if problem not in UNSUPPORTED_RULES
        )
    return schemas


def _walk_rules(
    schema: Mapping[str, Any], path: str = ""
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(schema path, rule) for every x-kubernetes-validations rule below ``schema``."""
    for rule in schema.get("x-kubernetes-validations", []):
        yield path or "<root>", rule
    for key, child in schema.get("properties", {}).items():
        yield from _walk_rules(child, _join(path, key))
    if isinstance(schema.get("items"), Mapping):
        yield from _walk_rules(schema["items"], f"{path}[*]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from _walk_rules(schema["additionalProperties"], f"{path}[*]")


def _unsupported_in(entry: CrdVersion) -> Iterator[UnsupportedRule]:
    for path, rule in _walk_rules(entry.schema):
        for expression in (rule["rule"], rule.get("messageExpression")):
            reason = expression and _compile(expression).unsupported
            if reason:
                yield UnsupportedRule(entry.crd, path, expression, reason)


def crd_rule_inventory(crd_dir: Path | None = None) -> RuleInventory:
    """Counts over every rule of the CRDs: total, transition (oldSelf), evaluable, unsupported."""
    rules = [
        rule["rule"]
        for entry in load_crd_schemas(crd_dir).values()
        for _, rule in _walk_rules(entry.schema)
    ]
    compiled = [_compile(rule) for rule in rules]
    transition = sum(c.transition for c in compiled)
    unsupported = sum(bool(c.unsupported) and not c.transition for c in compiled)
    return RuleInventory(len(rules), transition, len(rules) - transition - unsupported, unsupported)


# --------------------------------------------------------------------------------------------
# CRDs: API-server request handling before validation (null pruning, defaulting)
# --------------------------------------------------------------------------------------------


def _child_schema(schema: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, Mapping) else None


def apply_defaults(value: Any, schema: Mapping[str, Any]) -> Any:
    """A copy of ``value`` with non-nullable nulls pruned and schema defaults applied, as the
    API server does before validating (defaults are applied into defaulted values too)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, child in value.items():
            sub = _child_schema(schema, key)
            if child is None and sub is not None and not sub.get("nullable"):
                continue
            out[key] = child
        for key, sub in schema.get("properties", {}).items():
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
        for key, child in out.items():
            sub = _child_schema(schema, key)
            if sub is not None:
                out[key] = apply_defaults(child, sub)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


# --------------------------------------------------------------------------------------------
# CEL: Kubernetes library functions cel-python lacks, compilation, value conversion
# --------------------------------------------------------------------------------------------


def _cel_split(text: str, separator: str, limit: int = -1) -> celtypes.ListType:
    """strings ext ``split`` (Go strings.SplitN: limit 0 -> [], < 0 -> all, "" -> runes)."""
    if limit == 0:
        return celtypes.ListType([])
    if separator == "":
        parts = list(text)
        if 0 < limit < len(parts):
            parts = [*parts[: limit - 1], "".join(parts[limit - 1 :])]
    else:
        parts = text.split(separator, limit - 1 if limit > 0 else -1)
    return celtypes.ListType([celtypes.StringType(part) for part in parts])


def _cel_find(text: str, pattern: str) -> celtypes.StringType:
    """Kubernetes regex library ``find``: the first RE2 match, or "" when none."""
    match = _compile_re2(pattern).search(text)
    return celtypes.StringType(match.group(0) if match else "")


def _cel_find_all(text: str, pattern: str, limit: int = -1) -> celtypes.ListType:
    """Kubernetes regex library ``findAll``: every match (at most ``limit`` when >= 0)."""
    matches = [m.group(0) for m in _compile_re2(pattern).finditer(text)]
    if limit >= 0:
        matches = matches[:limit]
    return celtypes.ListType([celtypes.StringType(m) for m in matches])


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _cel_lower_ascii(text: str) -> celtypes.StringType:
    """strings ext ``lowerAscii``: only ASCII letters change."""
    return celtypes.StringType(str(text).translate(_ASCII_LOWER))


def _cel_upper_ascii(text: str) -> celtypes.StringType:
    """strings ext ``upperAscii``: only ASCII letters change."""
    return celtypes.StringType(str(text).translate(_ASCII_UPPER))


def _cel_join(items: Sequence[str], separator: str = "") -> celtypes.StringType:
    """strings ext ``join`` on a list of strings."""
    if not all(isinstance(item, str) for item in items):
        raise TypeError("join requires a list of strings")
    return celtypes.StringType(str(separator).join(items))


def _cel_index_of(target: Any, needle: Any, offset: int = 0) -> celtypes.IntType:
    """strings ext ``indexOf`` (code points, -1 when absent) and lists ext ``indexOf``."""
    if isinstance(target, list):
        return celtypes.IntType(next((i for i, x in enumerate(target) if x == needle), -1))
    if not 0 <= offset <= len(target):
        raise ValueError(f"index out of range: {offset}")
    return celtypes.IntType(str(target).find(str(needle), int(offset)))


def _cel_replace(text: str, old: str, new: str, limit: int = -1) -> celtypes.StringType:
    """strings ext ``replace`` (Go strings.Replace: limit < 0 replaces all)."""
    return celtypes.StringType(str(text).replace(old, new, -1 if limit < 0 else int(limit)))


def _cel_trim(text: str) -> celtypes.StringType:
    """strings ext ``trim``: strip leading and trailing Unicode whitespace."""
    return celtypes.StringType(str(text).strip())


_GO_INT = re.compile(r"^[+-]?[0-9]+$")


def _cel_int(value: Any) -> celtypes.IntType:
    """``int()`` with Go's strconv.ParseInt for strings (Python would accept "1_0", " 1")."""
    if isinstance(value, str) and not _GO_INT.match(value):
        raise ValueError(f"cannot parse {value!r} as int")
    return celtypes.IntType(value)


# Functions added to (or replacing) cel-python's base library. The Karpenter CRDs use `split`
# (strings ext) and `find` (Kubernetes regex library); `int` is stricter; the rest are the common
# strings-ext functions, tested too.
CEL_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "split": _cel_split,
    "find": _cel_find,
    "findAll": _cel_find_all,
    "lowerAscii": _cel_lower_ascii,
    "upperAscii": _cel_upper_ascii,
    "join": _cel_join,
    "indexOf": _cel_index_of,
    "replace": _cel_replace,
    "trim": _cel_trim,
    "int": _cel_int,
}
CEL_MACROS = frozenset({"has", "all", "exists", "exists_one", "map", "filter"})
_KNOWN_FUNCTIONS = frozenset(celpy.base_functions) | frozenset(CEL_FUNCTIONS) | CEL_MACROS


@dataclass(frozen=True)
class CompiledRule:
    """A CEL expression compiled once: its program, or why it cannot run."""

    text: str
    program: celpy.Runner | None
    transition: bool
    unsupported: str | None


@functools.cache
def _environment() -> celpy.Environment:
    return celpy.Environment()


def _called_functions(ast: lark.Tree) -> set[str]:
    """Names of every function or method an expression calls."""
    names: set[str] = set()
    for node in ast.iter_subtrees():
        if node.data == "member_dot_arg":
            names.add(str(node.children[1]))
        elif node.data in {"ident_arg", "dot_ident_arg"}:
            names.add(str(node.children[0]))
    return names


def _identifiers(ast: lark.Tree) -> set[str]:
    return {
        str(node.children[0])
        for node in ast.iter_subtrees()
        if node.data in {"ident", "dot_ident"} and node.children
    }


@functools.cache
def _compile(text: str) -> CompiledRule:
    """Compile a CEL expression once; unknown functions or syntax make it unsupported."""
    try:
        ast = _environment().compile(text)
    except celpy.CELParseError as error:
        return CompiledRule(text, None, "oldSelf" in text, f"cel-python cannot parse it: {error}")
    transition = "oldSelf" in _identifiers(ast)
    missing = sorted(_called_functions(ast) - _KNOWN_FUNCTIONS)
    if missing:
        reason = f"uses CEL functions cel-python lacks: {', '.join(missing)}"
        return CompiledRule(text, None, transition, reason)
    return CompiledRule(text, _environment().program(ast, CEL_FUNCTIONS), transition, None)


def _cel_string(value: str, fmt: str | None) -> Any:
    """Strings carry their OpenAPI format into CEL types, as in Kubernetes."""
    if fmt in {"date-time", "date"}:
        parsed = _parse_timestamp(value) if fmt == "date-time" else None
        return celtypes.TimestampType(parsed) if parsed else celtypes.StringType(value)
    if fmt == "byte":
        try:
            return celtypes.BytesType(base64.b64decode(value, validate=True))
        except ValueError:
            return celtypes.StringType(value)
    return celtypes.StringType(value)


def to_cel(value: Any, schema: Mapping[str, Any], *, root: bool = False) -> Any:
    """Convert a JSON value to CEL typed by its schema; unknown fields are pruned (as the API
    server does before CEL runs). At the root, ``metadata`` exposes only name and generateName."""
    if value is None:
        return None
    if schema.get("x-kubernetes-int-or-string"):
        return celpy.json_to_cel(value)
    if isinstance(value, Mapping):
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        items: dict[Any, Any] = {}
        for key, child in value.items():
            if root and key == "metadata" and isinstance(child, Mapping):
                meta = {k: child[k] for k in ("name", "generateName") if k in child}
                items[celtypes.StringType(key)] = celpy.json_to_cel(meta)
                continue
            sub = _child_schema(schema, key)
            if sub is not None:
                items[celtypes.StringType(key)] = to_cel(child, sub)
            elif preserve:
                items[celtypes.StringType(key)] = celpy.json_to_cel(child)
        return celtypes.MapType(items)
    if isinstance(value, list):
        item_schema = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        return celtypes.ListType([to_cel(item, item_schema) for item in value])
    if isinstance(value, str):
        return _cel_string(value, schema.get("format"))
    if isinstance(value, int) and not isinstance(value, bool) and schema.get("type") == "number":
        return celtypes.DoubleType(value)
    return celpy.json_to_cel(value)


def _evaluate(rule: CompiledRule, cel_self: Any) -> tuple[Any, str | None]:
    """(result, error text). cel-python returns or raises CELEvalError; both are errors."""
    assert rule.program is not None
    try:
        result = rule.program.evaluate({"self": cel_self})
    except Exception as error:  # any failure must surface as a rejection, never a pass
        return None, _short_error(error)
    if isinstance(result, celpy.CELEvalError):
        return None, _short_error(result)
    return result, None


class CelError(ValueError):
    """A CEL expression that cannot be compiled or failed to evaluate."""


def evaluate_cel(expression: str, value: Any) -> Any:
    """Evaluate ``expression`` with ``self`` bound to the JSON ``value`` (untyped by a schema),
    with the same functions and caching as the rules; raise CelError when it cannot."""
    compiled = _compile(expression)
    if compiled.program is None:
        raise CelError(compiled.unsupported)
    result, error = _evaluate(compiled, celpy.json_to_cel(value))
    if error is not None:
        raise CelError(error)
    return result


def _short_error(error: BaseException) -> str:
    """The first line of a CEL error, with the Python cause cel-python keeps in args[2]."""
    text = str(error.args[0]) if error.args else type(error).__name__
    cause = error.args[2] if len(error.args) > 2 else None
    if isinstance(cause, tuple) and cause:
        text = f"{text} ({cause[0]})"
    return text if len(text) <= 200 else text[:200] + "..."


def _rule_message(rule: Mapping[str, Any], cel_self: Any) -> str:
    """messageExpression when it yields a non-empty string, else message, else the rule."""
    expression = rule.get("messageExpression")
    if expression:
        compiled = _compile(expression)
        if compiled.program is not None:
            result, error = _evaluate(compiled, cel_self)
            if error is None and isinstance(result, str) and result.strip():
                return str(result)
    return rule.get("message") or f"failed rule: {rule['rule']}"


def _check_rule(
    rule: Mapping[str, Any], cel_self: Any, path: str, report: ValidationReport
) -> str | None:
    """Evaluate one rule; the error message when it fails, else None."""
    compiled = _compile(rule["rule"])
    if compiled.transition and not rule.get("optionalOldSelf"):
        report.cel_skipped_transition += 1
        return None
    if compiled.program is None:
        report.cel_unsupported += 1
        if compiled.text in DOCUMENTED_UNSUPPORTED_RULES:
            return None
        return f"cannot evaluate rule {compiled.text!r}: {compiled.unsupported}"
    if compiled.transition:
        report.cel_skipped_transition += 1  # optionalOldSelf: needs oldSelf as optional.none
        return None
    report.cel_evaluated += 1
    result, error = _evaluate(compiled, cel_self)
    if error is not None:
        return f"{_rule_message(rule, cel_self)}: rule evaluation error: {error}"
    if not isinstance(result, celtypes.BoolType):
        return f"failed rule: {rule['rule']}: evaluated to {result!r}, not a bool"
    return None if result else _rule_message(rule, cel_self)


def cel_errors(
    schema: Mapping[str, Any],
    value: Any,
    report: ValidationReport,
    path: str = "",
    *,
    root: bool = True,
) -> list[tuple[str, str]]:
    """(path, message) for every failing ``x-kubernetes-validations`` rule wherever ``value``
    has data, with ``self`` bound to the value at the rule's schema node."""
    errors: list[tuple[str, str]] = []
    if value is None:
        return errors
    rules = schema.get("x-kubernetes-validations", [])
    if rules:
        cel_self = to_cel(value, schema, root=root)
        for rule in rules:
            message = _check_rule(rule, cel_self, path, report)
            if message:
                where = (path + rule.get("fieldPath", "")).lstrip(".")
                errors.append((where or "<root>", message))
    if isinstance(value, Mapping):
        for key, child in value.items():
            sub = _child_schema(schema, key)
            if sub is not None:
                errors += cel_errors(sub, child, report, _join(path, key), root=False)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            errors += cel_errors(schema["items"], item, report, f"{path}[{index}]", root=False)
    return errors


# --------------------------------------------------------------------------------------------
# Validation of one object
# --------------------------------------------------------------------------------------------


def _custom_resource_errors(
    obj: Mapping[str, Any], entry: CrdVersion, report: ValidationReport
) -> list[tuple[str, str]]:
    """Prune nulls, default, validate the structural schema, then (unless blocked) CEL."""
    if not entry.served:
        return [("apiVersion", f"{entry.api_version} {entry.kind} is not served by {entry.crd}")]
    value = apply_defaults(obj, entry.schema)
    schema_errors = list(entry.validator.iter_errors(value))
    errors = [pair for error in schema_errors for pair in _schema_error_messages(error)]
    metadata = value.get("metadata")
    if isinstance(metadata, Mapping):
        for error in _object_meta_validator().iter_errors(metadata):
            errors += _schema_error_messages(error, "metadata")
    if any(error.validator in BLOCKING_KEYWORDS for error in schema_errors):
        return [*errors, ("<root>", CEL_BLOCKED)]
    return errors + cel_errors(entry.schema, value, report)


def _core_errors(obj: Mapping[str, Any], validator: jsonschema.Validator) -> list[tuple[str, str]]:
    return [pair for error in validator.iter_errors(obj) for pair in _schema_error_messages(error)]


def _object_errors(obj: Any, report: ValidationReport) -> list[str]:
    if not isinstance(obj, Mapping):
        return [f"<not an object>: <root>: expected a mapping, got {type(obj).__name__}"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return [f"{_label(obj)}: <root>: apiVersion and kind must be strings"]
    group, _ = _api_group_version(api_version)
    pairs: list[tuple[str, str]]
    if group in CRD_GROUPS:
        entry = load_crd_schemas().get((api_version, kind))
        if entry is None:
            return [f"{_label(obj)}: <root>: no schema for {api_version} {kind} in the CRDs"]
        pairs = _custom_resource_errors(obj, entry, report)
    else:
        validator = _core_validator(api_version, kind)
        if validator is None:
            return [
                f"{_label(obj)}: <root>: no schema for {api_version} {kind} "
                f"(not a Kubernetes {KUBERNETES_VERSION} built-in kind nor a Karpenter CRD)"
            ]
        pairs = _core_errors(obj, validator)
    pairs += _go_side_errors(obj)
    return [f"{_label(obj)}: {path}: {message}" for path, message in dict.fromkeys(pairs)]


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def validate_report(objects: Iterable[Mapping[str, Any]]) -> ValidationReport:
    """Validate every object; the errors plus how many CEL rules were evaluated or skipped."""
    report = ValidationReport()
    for obj in objects:
        report.errors += _object_errors(obj, report)
    return report


def validate_objects(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return one readable error string per problem ("<kind>/<name>: <path>: <message>"),
    [] if all valid."""
    return validate_report(objects).errors


def validate_yaml_documents(text: str) -> list[str]:
    """Validate a multi-document YAML stream; empty documents are ignored, and documents that
    are not mappings are reported by their 0-based position in the stream."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        return [f"<yaml>: <root>: cannot parse YAML: {error}"]
    errors = [
        f"<document {index}>: <root>: expected a mapping, got {type(doc).__name__}"
        for index, doc in enumerate(documents)
        if doc is not None and not isinstance(doc, Mapping)
    ]
    return errors + validate_objects(doc for doc in documents if isinstance(doc, Mapping))
