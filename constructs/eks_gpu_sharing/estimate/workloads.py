"""The workloads an estimate packs: declared in a YAML file, or measured (:mod:`.measured`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any, Final

from ..catalog import load_catalog
from ..config import Reader, read_yaml_file
from ..errors import ConfigurationError, Problems
from ..kubernetes_names import dns_label_error
from ..vocabulary import vocabulary

#: The most replicas one workload may declare (a sanity bound, not a Kubernetes limit).
MAX_REPLICAS: Final = 10000


@dataclass(frozen=True)
class Workload:
    """One service or job that holds whole GPUs today.

    Example::

        Workload("chat-api", replicas=6, gpu_memory_gib=5, busy=0.15, latency_sensitive=True)

    :param name: A DNS label (it names the pool it lands in and the report's rows).
    :param replicas: Pods, each holding one whole GPU today.
    :param gpu_memory_gib: GPU memory one pod needs, in GiB: its peak, not a percentile (GPU
        memory is a hard limit: an allocation past its share fails in some pod).
    :param busy: Share of one GPU's compute one pod keeps busy, 0..1 (a p95).
    :param latency_sensitive: A request waits on each step: never time-sliced.
    :param gpu: The GPU it runs on, as ``karpenter.k8s.aws/instance-gpu-name`` (``t4``, ``l4``...).
    :param gpu_size_gib: The GPU's memory where one GPU name comes in several sizes (``a100``:
        40 or 80 GiB, on p4d and p4de): the workload is sized for it and its pool admits only
        instance types with it. Default: the largest.
    :param gpus_today: GPUs its pods hold today where that is not one per pod: fewer where they
        already share GPUs, more where a pod holds several (measured: distinct GPU UUIDs).
        Default: ``replicas``.
    :param cpu: One pod's CPU request, a Kubernetes quantity (``"2"``, ``"500m"``), or None for
        the sample pod's 250m. Host requests decide how many pods a node holds besides its slices:
        Karpenter's scheduler counts them; the arithmetic fallback cannot.
    :param memory: One pod's memory request (``8Gi``, ``512Mi``), or None for the sample's 256Mi.
    """

    name: str
    replicas: int
    gpu_memory_gib: float
    busy: float
    _: KW_ONLY
    latency_sensitive: bool = False
    gpu: str = "l4"
    gpu_size_gib: int | None = None
    gpus_today: int | None = None
    cpu: str | None = None
    memory: str | None = None

    @property
    def host_requests(self) -> dict[str, str]:
        """The CPU and memory requests it declares (empty: the sample pod's)."""
        return {k: v for k, v in (("cpu", self.cpu), ("memory", self.memory)) if v is not None}

    def __post_init__(self) -> None:
        words = vocabulary()
        problems = Problems()
        owner = f"Workload({self.name!r})" if isinstance(self.name, str) else "Workload"

        def add(attribute: str, value: object, rule: str, fix: str) -> None:
            problems.add(field=words.field(owner, attribute), value=value, rule=rule, fix=fix)

        if not isinstance(self.name, str) or dns_label_error(self.name, max_length=40):
            add("name", self.name, "a DNS label of at most 40 characters", "e.g. chat-api")
        if not _whole(self.replicas) or not 1 <= self.replicas <= MAX_REPLICAS:
            add("replicas", self.replicas, f"a whole number 1..{MAX_REPLICAS}", "e.g. 4")
        if self.gpus_today is not None and (
            not _whole(self.gpus_today) or not 1 <= self.gpus_today <= 8 * MAX_REPLICAS
        ):
            add(
                "gpus_today",
                self.gpus_today,
                "GPUs its pods hold today, a whole number from 1",
                "count the distinct GPUs (nvidia-smi -L per node, or DCGM's UUID label)",
            )
        if not _number(self.busy) or not 0 <= self.busy <= 1:
            add(
                "busy",
                self.busy,
                "a share of one GPU's compute, 0..1 (0.25 = a quarter of the time)",
                "divide a percentage by 100",
            )
        for attribute, example in (("cpu", '"2" or "500m"'), ("memory", "8Gi or 512Mi")):
            value = getattr(self, attribute)
            if value is not None and not _positive_quantity(value):
                add(
                    attribute,
                    value,
                    "one pod's request, a Kubernetes quantity above 0",
                    f"e.g. {example}, as in the pod's resources.requests",
                )
        if not isinstance(self.latency_sensitive, bool):
            add("latency_sensitive", self.latency_sensitive, "must be true or false", "")
        # One name, several sizes (a100: 40 and 80 GB): the one named by gpu_size_gib, else the
        # largest, as the sizing uses (recommend.gpu_model); never the last of an unordered set,
        # which made the rule depend on PYTHONHASHSEED.
        sizes = gpu_sizes()
        known = sizes.get(self.gpu, set()) if isinstance(self.gpu, str) else set()
        size = self.gpu_size_gib if self.gpu_size_gib in known else None
        if self.gpu_size_gib is not None and known and size is None:
            add(
                "gpu_size_gib",
                self.gpu_size_gib,
                f"the {self.gpu} comes with "
                + " or ".join(f"{found} GiB" for found in sorted(known)),
                "use one of those, or leave it out for the largest",
            )
        memory: dict[str, float] = {}
        for t in load_catalog().instance_types:
            if t.gpu_count > 0 and (
                size is None or t.gpu_name != self.gpu or t.gpu_memory_mib // 1024 == size
            ):
                memory[t.gpu_name] = max(memory.get(t.gpu_name, 0.0), t.gpu_model.memory_gib)
        priced = load_catalog().priced_gpu_names
        if not isinstance(self.gpu, str) or self.gpu not in memory:
            add(
                "gpu",
                self.gpu,
                "not a GPU of the instance catalog",
                f"use one of {', '.join(sorted(memory))}",
            )
        elif self.gpu not in priced:
            add(
                "gpu",
                self.gpu,
                "no instance type of this GPU has a price in Karpenter's static price table "
                "(Karpenter treats such types as unavailable until its first price update), so "
                "estimate cannot price it",
                f"estimate it on a priced GPU ({', '.join(sorted(priced))}) or leave it out",
            )
        elif not _number(self.gpu_memory_gib) or not 0 < self.gpu_memory_gib <= memory[self.gpu]:
            add(
                "gpu_memory_gib",
                self.gpu_memory_gib,
                f"GiB one pod needs: more than 0 and at most the {self.gpu}'s "
                f"{memory[self.gpu]:.1f} GiB",
                "measure it (nvidia-smi, DCGM_FI_DEV_FB_USED) or pick a larger GPU",
            )
        problems.raise_if_any()
        for attribute in ("cpu", "memory"):
            value = getattr(self, attribute)
            if isinstance(value, int):  # YAML's `cpu: 2`: kept as the quantity it means
                object.__setattr__(self, attribute, str(value))


def gpu_sizes() -> dict[str, set[int]]:
    """Per catalog GPU name, the GiB of memory its GPUs come with (a100: {40, 80})."""
    sizes: dict[str, set[int]] = {}
    for t in load_catalog().instance_types:
        if t.gpu_count > 0:
            sizes.setdefault(t.gpu_name, set()).add(t.gpu_memory_mib // 1024)
    return sizes


def read_workloads(path: str | Path) -> tuple[Workload, ...]:
    """The workloads of a YAML file (``examples/workloads.yaml``); every bad value in one error."""
    return parse_workloads(
        read_yaml_file(path, option="--workloads", what="a workloads file"), source=str(path)
    )


def parse_workloads(document: Any, *, source: str = "workloads") -> tuple[Workload, ...]:
    """The workloads of an already-parsed document."""
    reader = Reader()
    root = reader.mapping(document, "")
    if root is not None:
        reader.only(root, "", ["workloads"])
        raw = root.get("workloads")
        if not isinstance(raw, list) or not raw:
            reader.add(
                "workloads", raw, "must be a non-empty list", "add workloads: with - name: ..."
            )
        else:
            built = [reader.build(Workload, item, f"workloads[{i}]") for i, item in enumerate(raw)]
            _unique([w for w in built if w is not None], reader)
            reader.problems.raise_if_any(source=source)
            return tuple(w for w in built if w is not None)
    reader.problems.raise_if_any(source=source)
    raise AssertionError("unreachable")  # pragma: no cover


def check_workloads(workloads: Sequence[Workload]) -> tuple[Workload, ...]:
    """``workloads`` as a tuple, non-empty and with unique names."""
    if not workloads or not all(isinstance(w, Workload) for w in workloads):
        raise ConfigurationError(
            field="workloads",
            value=workloads,
            rule="must be a non-empty list of Workload",
            fix='e.g. [Workload("chat-api", replicas=6, gpu_memory_gib=5, busy=0.15)]',
        )
    reader = Reader()
    _unique(workloads, reader)
    reader.problems.raise_if_any()
    return tuple(workloads)


def _unique(workloads: Sequence[Workload], reader: Reader) -> None:
    seen: set[str] = set()
    for workload in workloads:
        if workload.name in seen:
            reader.add("workloads", workload.name, "two workloads have this name", "rename one")
        seen.add(workload.name)


#: A Kubernetes resource quantity (apimachinery ``resource.ParseQuantity``'s grammar, without
#: signs): decimal number, then an optional binary or decimal suffix or exponent.
_QUANTITY: Final = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE]\d+|[KMGTPE]i|[numkMGTPE])?")


def _positive_quantity(value: object) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or _QUANTITY.fullmatch(value) is None:
        return False
    return any(c in "123456789" for c in value.split("e")[0].split("E")[0])


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
