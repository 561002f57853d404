"""The package's one exception type for bad input, raised before anything is built or written.

Every message names the field, the value (cut when long), the rule it breaks and the fix, in the
words of what the user wrote: Python names for the API (``GpuPool('a').gpu_limit``), YAML keys
and locations for the config file (``pools[0].gpuLimit``); see :mod:`eks_gpu_sharing.vocabulary`.
One error may carry several problems: a config file reports all of its problems at once.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

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


@dataclass(frozen=True)
class Problem:
    """One broken rule: where, what was given, which rule, and what to do instead."""

    field: str
    value: Any
    rule: str
    fix: str

    def __str__(self) -> str:
        # Field names and rules can carry the user's keys and upstream text: a control
        # character or newline there must not forge another line on a terminal.
        return (
            f"{printable(self.field)}={shown(self.value)}: {printable(self.rule)}; "
            f"{printable(self.fix)}"
        )


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

    def add(self, *, field: str, value: Any, rule: str, fix: str) -> None:
        """Record one problem."""
        self._problems.append(Problem(field, value, rule, fix))

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


def require_instance(value: Any, expected: type, *, field: str, fix: str) -> None:
    """Raise ConfigurationError unless ``value`` is an ``expected`` (typed props from Python)."""
    if not isinstance(value, expected):
        raise ConfigurationError(
            field=field, value=value, rule=f"must be a {expected.__name__}", fix=fix
        )
