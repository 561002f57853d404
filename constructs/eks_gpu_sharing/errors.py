"""The package's one exception type for bad input, raised before anything is built or written.

Every message names the field, the value (cut when long), the rule it breaks and the fix, in the
words of what the user wrote: Python names for the API (``GpuPool('a').gpu_limit``), YAML keys
and locations for the config file (``pools[0].gpuLimit``); see :mod:`eks_gpu_sharing.vocabulary`.
One error may carry several problems: a config file reports all of its problems at once.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Final

from .vocabulary import Yaml, vocabulary

#: The fix shown when something other than a GpuPool is passed as a pool.
GPU_POOL_EXAMPLE = 'pass e.g. GpuPool("inference", sharing=TimeSlicing(replicas=4))'

# repr() of a value in a message, bounded however large or deep the value is (a YAML alias
# bomb must not make an error message expand it).
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = 80
_SHOWN.maxother = 80
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxset = _SHOWN.maxdict = 6
_SHOWN.maxlevel = 3
_SHOWN.maxlong = 40


_SHOWN_MAX: Final = 120


def shown(value: Any) -> str:
    """``repr(value)``, cut to a readable length (at most 120 characters)."""
    text = _SHOWN.repr(value)
    if len(text) <= _SHOWN_MAX:
        return text
    half = (_SHOWN_MAX - 3) // 2
    return f"{text[:half]}...{text[-half:]}"


#: A string YAML reads back as the same string without quotes (not a number, bool or null).
_PLAIN_YAML: Final = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@-]*")
_YAML_SPECIAL: Final = frozenset({"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"})


class _NotSet:
    """The value of a problem about a key the file leaves out."""

    def __repr__(self) -> str:
        return "(not set)"


#: The value of a problem about a required key the file leaves out (``clusterName: (not set)``,
#: where an explicit ``clusterName: null`` shows ``null``).
NOT_SET: Final = _NotSet()


def shown_yaml(value: Any, depth: int = 0) -> str:
    """``value`` as the config file would write it, in YAML's flow style (``false``,
    ``[T4, A10G]``, ``{mode: mps}``), cut like :func:`shown`."""
    if depth == 0:
        text = shown_yaml(value, 1)
        if len(text) <= _SHOWN_MAX:
            return text
        half = (_SHOWN_MAX - 3) // 2
        return f"{text[:half]}...{text[-half:]}"
    if value is NOT_SET:
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _SHOWN.repr(value)
    if isinstance(value, str):
        cut = value if len(value) <= _SHOWN.maxstring else value[: _SHOWN.maxstring - 3]
        more = "" if cut is value else "..."
        if _PLAIN_YAML.fullmatch(cut) and cut.lower() not in _YAML_SPECIAL:
            return cut + more
        return json.dumps(cut) + more  # a JSON string is a YAML double-quoted scalar
    if depth > _SHOWN.maxlevel:
        return "..."
    if isinstance(value, Mapping):
        items = [
            f"{shown_yaml(k, depth + 1)}: {shown_yaml(v, depth + 1)}"
            for k, v in list(value.items())[: _SHOWN.maxdict]
        ]
        more = ", ..." if len(value) > _SHOWN.maxdict else ""
        return "{" + ", ".join(items) + more + "}"
    if isinstance(value, list | tuple):
        items = [shown_yaml(v, depth + 1) for v in value[: _SHOWN.maxlist]]
        more = ", ..." if len(value) > _SHOWN.maxlist else ""
        return "[" + ", ".join(items) + more + "]"
    return shown(value)


def _speaking_yaml() -> bool:
    return isinstance(vocabulary(), Yaml)


@dataclass(frozen=True)
class Problem:
    """One broken rule: where, what was given, which rule, and what to do instead.

    A problem found in a config file shows its value as YAML (``karpenter.nodeOverlayEnabled:
    false -- ...``); one found in the Python API as Python (``GpuPool.gpu_limit=0: ...``).
    """

    field: str
    value: Any
    rule: str
    fix: str
    #: Worded for the config file (the vocabulary when the problem was found).
    yaml: bool = dataclass_field(default_factory=_speaking_yaml)

    def __str__(self) -> str:
        # Field names and rules can carry the user's keys and upstream text: a control
        # character or newline there must not forge another line on a terminal.
        if self.yaml:
            given = f"{printable(self.field)}: {printable(shown_yaml(self.value))} -- "
        else:
            given = f"{printable(self.field)}={shown(self.value)}: "
        return f"{given}{printable(self.rule)}; {printable(self.fix)}"


def printable(text: str) -> str:
    """``text`` with control characters (newlines, escapes) shown as escape sequences."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class ConfigurationError(ValueError):
    """A value in the description of the cluster, pools or sharing breaks a rule.

    ``field``, ``value``, ``rule`` and ``fix`` describe the first problem; :attr:`problems` holds
    all of them. The message names each, e.g. ``TimeSlicing.replicas=1: the NVIDIA device plugin
    requires >= 2 (...); use 2 or more, or NoSharing() for whole GPUs``.
    """

    def __init__(
        self,
        *,
        field: str | None = None,
        value: Any = None,
        rule: str | None = None,
        fix: str | None = None,
        problems: Sequence[Problem] = (),
        source: str | None = None,
    ) -> None:
        collected = list(problems)
        if field is not None:
            collected.insert(0, Problem(field, value, rule or "", fix or ""))
        if not collected:
            raise TypeError("ConfigurationError needs a field or problems")
        self.problems: tuple[Problem, ...] = tuple(collected)
        first = self.problems[0]
        self.field, self.value, self.rule, self.fix = (
            first.field,
            first.value,
            first.rule,
            first.fix,
        )
        #: The file the problems are in, when they come from one.
        self.source = source
        if len(self.problems) == 1:
            message = str(first)
        else:
            message = f"{len(self.problems)} problems:\n" + "\n".join(
                f"  - {problem}" for problem in self.problems
            )
        super().__init__(f"{source}: {message}" if source else message)


class Problems:
    """Collects problems so a whole object (or file) is checked before anything is reported."""

    def __init__(self) -> None:
        self._problems: list[Problem] = []

    def add(self, *, field: str, value: Any, rule: str, fix: str, yaml: bool | None = None) -> None:
        """Record one problem (worded for the config file when ``yaml``; by default as the
        active vocabulary says)."""
        words_yaml = _speaking_yaml() if yaml is None else yaml
        self._problems.append(Problem(field, value, rule, fix, words_yaml))

    def extend(self, error: ConfigurationError) -> None:
        """Record every problem of an error raised by a part."""
        self._problems.extend(error.problems)

    def __bool__(self) -> bool:
        return bool(self._problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self._problems)

    def raise_if_any(self, *, source: str | None = None) -> None:
        """Raise one ConfigurationError with everything recorded, if anything was."""
        if self._problems:
            raise ConfigurationError(problems=self._problems, source=source)


def check_bool(problems: Problems, owner: str, name: str, value: object, *, when: str = "") -> None:
    """True or false, nothing that merely converts to one; ``when`` ends the fix (``" once the
    gate is on"``)."""
    if not isinstance(value, bool):
        words = vocabulary()
        problems.add(
            field=words.field(owner, name),
            value=value,
            rule="must be true or false",
            fix=f"use {words.example(name, words.choose(python='True', yaml='true'))}{when}",
        )


def require_instance(value: Any, expected: type, *, field: str, fix: str) -> None:
    """Raise ConfigurationError unless ``value`` is an ``expected`` (typed props from Python)."""
    if not isinstance(value, expected):
        raise ConfigurationError(
            field=field, value=value, rule=f"must be a {expected.__name__}", fix=fix
        )
