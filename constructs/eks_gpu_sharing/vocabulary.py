"""Errors in the words of what the user wrote: Python names for the API, YAML keys for the file.

The models (``GpuPool``, ``TimeSlicing``, ...) validate themselves and word their errors through
the active :class:`Vocabulary`. Built from Python they speak :data:`PYTHON`
(``GpuPool('a').gpu_limit=0: ...; use e.g. gpu_limit=8``); the config reader builds them inside
:func:`speaking` a :class:`Yaml` vocabulary located at the section being read
(``pools[0].gpuLimit: 0 -- ...; use e.g. gpuLimit: 8``, the value as YAML). YAML keys derive
from the dataclass field names (:func:`yaml_key`), so the file format and the API cannot drift
apart.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import Final

#: Keys whose YAML spelling is not the camelCase of the Python name.
_KEY_OVERRIDES: Final = {"root_volume_gib": "rootVolumeGiB"}
_WORD: Final = re.compile(r"_([a-z0-9])")


def yaml_key(attribute: str) -> str:
    """The config-file key of a Python attribute: ``gpu_limit`` -> ``gpuLimit``."""
    return _KEY_OVERRIDES.get(attribute) or _WORD.sub(lambda m: m.group(1).upper(), attribute)


def yaml_path(attributes: str) -> str:
    """``sharing.fail_requests_greater_than_one`` -> ``sharing.failRequestsGreaterThanOne``."""
    return ".".join(yaml_key(part) for part in attributes.split("."))


class Vocabulary:
    """How a field, an example value and an enum member are written for this user."""

    def field(self, owner: str, attribute: str) -> str:
        """Where the value is: ``owner`` is the Python owner, e.g. ``GpuPool('a')``."""
        raise NotImplementedError

    def name(self, attribute: str) -> str:
        """The attribute's own name, as the user would write it."""
        raise NotImplementedError

    def example(self, attribute: str, value: str) -> str:
        """A setting of ``attribute`` to ``value`` as the user would write it."""
        raise NotImplementedError

    def enum(self, member: Enum) -> str:
        """An enum member as the user would write it."""
        raise NotImplementedError

    def choose(self, *, python: str, yaml: str) -> str:
        """The text for this vocabulary."""
        raise NotImplementedError


class _Python(Vocabulary):
    def field(self, owner: str, attribute: str) -> str:
        return f"{owner}.{attribute}" if attribute else owner

    def name(self, attribute: str) -> str:
        return attribute

    def example(self, attribute: str, value: str) -> str:
        return f"{attribute}={value}"

    def enum(self, member: Enum) -> str:
        return f"{type(member).__name__}.{member.name}"

    def choose(self, *, python: str, yaml: str) -> str:
        return python


@dataclass(frozen=True)
class Yaml(Vocabulary):
    """The config file's words; ``location`` is the section being read, e.g. ``pools[0]``."""

    location: str

    def field(self, owner: str, attribute: str) -> str:
        path = yaml_path(attribute) if attribute else ""
        return ".".join(part for part in (self.location, path) if part) or "(file)"

    def name(self, attribute: str) -> str:
        return yaml_path(attribute)

    def example(self, attribute: str, value: str) -> str:
        return f"{yaml_key(attribute)}: {value}"

    def enum(self, member: Enum) -> str:
        return str(member.value)

    def choose(self, *, python: str, yaml: str) -> str:
        return yaml


#: The API's vocabulary, active unless the config reader says otherwise.
PYTHON: Final[Vocabulary] = _Python()
_ACTIVE: ContextVar[Vocabulary] = ContextVar("eks_gpu_sharing_vocabulary", default=PYTHON)


def vocabulary() -> Vocabulary:
    """The vocabulary errors are worded in right now."""
    return _ACTIVE.get()


@contextlib.contextmanager
def speaking(words: Vocabulary) -> Iterator[None]:
    """Word every error raised inside the block in ``words``."""
    token = _ACTIVE.set(words)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
