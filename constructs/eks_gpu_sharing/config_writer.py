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
from typing import Any

from .sharing import SharingMode
from .vocabulary import yaml_key


def sharing_document(sharing: SharingMode) -> dict[str, Any]:
    """``sharing`` as the config file writes it, e.g. ``{mode: time-slicing, replicas: 4}``."""
    return {"mode": sharing.yaml_name, **to_document(sharing)}


def to_document(value: Any) -> Any:
    """A dataclass (and what it holds) as YAML-ready data: camelCase keys, defaults left out."""
    if isinstance(value, SharingMode) and dataclasses.is_dataclass(value):
        return _fields(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_document(v) for v in value]
    return value


def _fields(value: Any) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for spec in dataclasses.fields(value):
        if not spec.init:
            continue
        current = getattr(value, spec.name)
        if _is_default(spec, current):
            continue
        if isinstance(current, SharingMode):
            document[yaml_key(spec.name)] = sharing_document(current)
        else:
            document[yaml_key(spec.name)] = to_document(current)
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
