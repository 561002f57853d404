"""Field checks the sharing modes share (each reports in the words of what the user wrote)."""

from __future__ import annotations

import math
from typing import Final

from ..catalog import GpuModel
from ..errors import NOT_SET, Problems
from ..vocabulary import vocabulary

#: Largest memory per slice (GiB) accepted: more than any GPU EC2 offers.
MAX_SLICE_MEMORY_GIB: Final = 1024
#: Fewest slices per GPU that is sharing at all (the device plugin's "replicas must be >= 2").
MIN_SLICES: Final = 2


def check_slices(
    problems: Problems,
    owner: str,
    replicas: object,
    memory_gib: object,
    maximum: int,
) -> None:
    """Exactly one of ``replicas`` (a count) and ``memory_gib`` (a size per slice)."""
    words = vocabulary()
    if (replicas is None) == (memory_gib is None):
        problems.add(
            field=words.field(owner, "replicas"),
            value=NOT_SET
            if replicas is None
            else {words.name("replicas"): replicas, words.name("memory_gib"): memory_gib},
            rule="takes exactly one of a slice count per GPU and a memory size per slice ("
            + ("both" if replicas is not None else "neither")
            + " given)",
            fix="use e.g. "
            + words.example("replicas", "4")
            + " or "
            + words.example("memory_gib", "8"),
        )
        return
    if replicas is not None:
        check_replicas(problems, owner, replicas, maximum)
        return
    if (
        not isinstance(memory_gib, int)
        or isinstance(memory_gib, bool)
        or not 1 <= memory_gib <= MAX_SLICE_MEMORY_GIB
    ):
        problems.add(
            field=words.field(owner, "memory_gib"),
            value=memory_gib,
            rule=f"GPU memory per slice is a whole number of GiB, 1..{MAX_SLICE_MEMORY_GIB}",
            fix="use e.g. " + words.example("memory_gib", "8"),
        )


def slices_by_memory(model: GpuModel, memory_gib: int) -> int:
    """Slices of ``memory_gib`` that fit the memory of one ``model`` GPU."""
    return math.floor(model.memory_mib / (memory_gib * 1024))


def check_replicas(problems: Problems, owner: str, replicas: object, maximum: int) -> None:
    """A whole number from 2 (the device plugin's minimum) to ``maximum``."""
    words = vocabulary()
    field = words.field(owner, "replicas")
    # bool is an int subclass: TimeSlicing(replicas=True) must not pass as 1.
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        problems.add(
            field=field,
            value=replicas,
            rule="must be a whole number",
            fix=f"use e.g. {words.example('replicas', '4')}",
        )
    elif replicas < MIN_SLICES:
        problems.add(
            field=field,
            value=replicas,
            rule='the NVIDIA device plugin requires >= 2 ("number of replicas must be >= 2")',
            fix="use 2 or more, or "
            + words.choose(python="NoSharing()", yaml="mode: none")
            + " for whole GPUs",
        )
    elif replicas > maximum:
        problems.add(
            field=field,
            value=replicas,
            rule=f"at most {maximum} per GPU",
            fix=f"use {maximum} or fewer",
        )


def toml_bool(value: bool) -> str:
    """``true`` or ``false``, as TOML writes them."""
    return "true" if value else "false"
