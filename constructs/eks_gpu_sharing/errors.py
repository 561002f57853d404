"""The package's one exception type for bad input, raised at synth time before anything is built."""

from __future__ import annotations

from typing import Any

#: The fix shown when something other than a GpuPool is passed as a pool.
GPU_POOL_EXAMPLE = 'pass e.g. GpuPool("inference", sharing=TimeSlicing(replicas=4))'


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


def require_instance(value: Any, expected: type, *, field: str, fix: str) -> None:
    """Raise ConfigurationError unless ``value`` is an ``expected`` (typed props from Python)."""
    if not isinstance(value, expected):
        raise ConfigurationError(
            field=field, value=value, rule=f"must be a {expected.__name__}", fix=fix
        )
