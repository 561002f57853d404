"""The config file's writer: the inverse of :mod:`.config`'s reader.

Keys derive from the dataclass fields the same way the reader's do (:func:`.vocabulary.yaml_key`),
so what is written reads back to an equal object (``tests/test_config_writer.py`` checks it
with Hypothesis). Fields at their default are left out; a sharing mode is written as
``{mode: <its yaml_name>, ...}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

import yaml

from .sharing import SharingMode
from .vocabulary import yaml_key

if TYPE_CHECKING:
    from .setup import GpuSharingSetup


def setup_yaml(setup: GpuSharingSetup, *, header: str = "") -> str:
    """``setup`` as a config file (``header``: comment lines to put first, without ``#``).

    Reading the text back (:func:`.config.parse_config`) gives a setup equal to ``setup``.
    """
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    document = to_document(setup)
    return comments + yaml.safe_dump(
        document, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True
    )


def sharing_document(sharing: SharingMode) -> dict[str, Any]:
    """``sharing`` as the config file writes it, e.g. ``{mode: time-slicing, replicas: 4}``."""
    return {"mode": sharing.yaml_name, **to_document(sharing)}


def to_document(value: Any, *, keep_defaults: bool = False) -> Any:
    """A dataclass (and what it holds) as YAML- or JSON-ready data: camelCase keys, as
    Kubernetes writes them; fields at their default left out unless ``keep_defaults``. Keys of
    mappings are names (labels, instance types, modules) and stay as they are."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value, keep_defaults)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_document(v, keep_defaults=keep_defaults) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_document(v, keep_defaults=keep_defaults) for v in value]
    return value


def _fields(value: Any, keep_defaults: bool) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for spec in dataclasses.fields(value):
        if not spec.init:
            continue
        current = getattr(value, spec.name)
        if not keep_defaults and _is_default(spec, current):
            continue
        if isinstance(current, SharingMode):
            document[yaml_key(spec.name)] = sharing_document(current)
        else:
            document[yaml_key(spec.name)] = to_document(current, keep_defaults=keep_defaults)
    return document


def _is_default(spec: dataclasses.Field[Any], current: Any) -> bool:
    if spec.default is not dataclasses.MISSING:
        default = spec.default
    elif spec.default_factory is not dataclasses.MISSING:
        default = spec.default_factory()
    else:
        return False
    if isinstance(default, list | tuple) and isinstance(current, list | tuple):
        return list(default) == list(current)
    return bool(default == current)
