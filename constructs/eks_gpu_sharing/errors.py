"""The package's one exception type for bad input, raised at synth time before anything is built."""

from __future__ import annotations

from typing import Any


class ConfigurationError(ValueError):
    """A value in the description of the cluster, pools or sharing breaks a rule.

    The message always names the field, the value, the rule it breaks and how to fix it, e.g.
    ``TimeSlicing.replicas=1: the NVIDIA device plugin requires >= 2 (...); use 2 or more, ...``.
    """

    def __init__(self, *, field: str, value: Any, rule: str, fix: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        self.fix = fix
        super().__init__(f"{field}={value!r}: {rule}; {fix}")
