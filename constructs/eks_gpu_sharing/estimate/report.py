"""An estimate as a terminal table, Markdown, JSON, an SVG bar chart and a gpu-sharing.yaml."""

from __future__ import annotations

import json
from html import escape
from typing import Any, Final

from ..config import load_yaml, parse_config
from ..config_writer import setup_yaml
from ..setup import GpuSharingSetup
from .plan import HOURS_PER_MONTH, Estimate
from .recommend import BUSY_TARGET, CUDA_CONTEXT_GIB, MEMORY_HEADROOM

FORMATS: Final = ("text", "markdown", "json")


def _rules() -> str:
    return (
        f"rules: {MEMORY_HEADROOM:.0%} of GPU memory kept free, {CUDA_CONTEXT_GIB:g} GiB per CUDA "
        f"context, pods' p95 busy time under {BUSY_TARGET:.0%} of the GPU"
    )


def _header(estimate: Estimate) -> list[str]:
    return [
        f"Node counts: {estimate.method}.",
        f"Prices: {estimate.prices}; $/month = $/hour x {HOURS_PER_MONTH}"
        + (
            "; spot allowed (capacityTypes: [spot, on-demand]) but priced on-demand, an upper "
            "bound: the static table has no spot prices"
            if estimate.spot
            else ""
        )
        + ".",
        f"Packing {_rules()}.",
        _profile_legend(estimate),
        _host_line(estimate),
    ]


def _profile_legend(estimate: Estimate) -> str:
    """What each profile code of the tables means (``ts5``: time-slicing, 5 pods per GPU)."""
    meanings: dict[str, str] = {}
    for rec in estimate.recommendations:
        if rec.mode.shares_gpus:
            name = {"mps": "MPS"}.get(rec.mode.estimate_name, rec.mode.estimate_name)
            meanings[rec.profile] = f"{name}, {rec.share} pods per GPU"
        else:
            meanings[rec.profile] = "whole GPUs, one pod each"
    return (
        "Profiles: "
        + "; ".join(f"{code} = {text}" for code, text in sorted(meanings.items()))
        + "."
    )


def _host_line(estimate: Estimate) -> str:
    """Whether the pods' CPU and memory were counted, and what the saving would be without."""
    if estimate.sample_pod_saving is not None:
        return (
            "Host CPU and memory: the workloads' declared requests (the sample pod's 250m and "
            "256Mi where a workload declares none); with the sample pod's everywhere the saving "
            f"would read {estimate.sample_pod_saving:.0%}."
        )
    return (
        "Host CPU and memory: the sample pod's 250m and 256Mi per pod; real pods can need larger "
        "nodes: declare cpu and memory per workload."
    )


def _workload_rows(estimate: Estimate) -> list[list[str]]:
    rows = []
    for rec in estimate.recommendations:
        w = rec.workload
        rows.append(
            [
                w.name,
                str(w.replicas),
                w.gpu + (f" {w.gpu_size_gib}g" if w.gpu_size_gib else ""),
                f"{w.gpu_memory_gib:.1f}",
                f"{w.busy:.0%}",
                "yes" if w.latency_sensitive else "no",
                rec.profile,
                f"{rec.pods_today} -> {rec.gpus}",
            ]
        )
    return rows


def _pool_rows(estimate: Estimate) -> list[list[str]]:
    rows = []
    for p in estimate.pools:
        saving = 1 - p.shared.per_month / p.today.per_month if p.today.per_month else 0.0
        rows.append(
            [
                p.pool.name,
                str(p.pods),
                str(p.share),
                str(p.today.nodes),
                f"{p.today.per_month:,.0f}",
                str(p.shared.nodes),
                f"{p.shared.per_month:,.0f}",
                f"{saving:.0%}",
                ", ".join(p.shared.instance_types) or "-",
            ]
        )
    today, shared = estimate.today, estimate.shared
    rows.append(
        [
            "total",
            str(sum(p.pods for p in estimate.pools)),
            "",
            str(today.nodes),
            f"{today.per_month:,.0f}",
            str(shared.nodes),
            f"{shared.per_month:,.0f}",
            f"{estimate.saving:.0%}",
            "",
        ]
    )
    return rows


_WORKLOAD_HEAD: Final = [
    "workload",
    "pods",
    "GPU",
    "GiB p95",
    "busy p95",
    "latency",
    "profile",
    "GPUs today -> shared",
]
_POOL_HEAD: Final = [
    "pool",
    "pods",
    "per GPU",
    "nodes today",
    "$/month today",
    "nodes shared",
    "$/month shared",
    "saving",
    "instance types",
]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    return [line(head), "-" * len(line(head)), *(line(r) for r in rows)]


def format_text(estimate: Estimate) -> str:
    """The terminal report: workloads, pools with $ today and shared, then reasons and risks."""
    today, shared = estimate.today, estimate.shared
    lines = [
        f"GPU sharing estimate: ${today.per_month:,.0f}/month today -> ${shared.per_month:,.0f}"
        f"/month shared ({estimate.saving:.0%} less, {today.nodes} -> {shared.nodes} GPU nodes"
        + (f"; on-demand less {estimate.discount:.0%}" if estimate.discount else "")
        + ")",
        "",
        *_table(_WORKLOAD_HEAD, _workload_rows(estimate)),
        "",
        *_table(_POOL_HEAD, _pool_rows(estimate)),
        "",
        "Why, and what it risks:",
    ]
    for rec in estimate.recommendations:
        lines.append(f"  {rec.workload.name} -> {rec.profile}: {rec.reason}")
        lines.extend(f"    risk: {risk}" for risk in rec.risks)
    unplaced = sum(p.shared.unplaced_pods + p.today.unplaced_pods for p in estimate.pools)
    if unplaced:
        lines.append(f"  warning: {unplaced} pod(s) could not be placed; see simulate")
    lines += ["", *_header(estimate)]
    return "\n".join(lines)


def format_markdown(estimate: Estimate) -> str:
    """The report for a ticket or a slide."""

    def table(head: list[str], rows: list[list[str]]) -> list[str]:
        return [
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
            *("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows),
        ]

    today, shared = estimate.today, estimate.shared
    lines = [
        "## GPU sharing estimate",
        "",
        f"**${today.per_month:,.0f}/month today -> ${shared.per_month:,.0f}/month with sharing "
        f"({estimate.saving:.0%} less; {today.nodes} -> {shared.nodes} GPU nodes).**",
        "",
        *table(_WORKLOAD_HEAD, _workload_rows(estimate)),
        "",
        *table(_POOL_HEAD, _pool_rows(estimate)),
        "",
        "### Why, and what it risks",
        "",
    ]
    for rec in estimate.recommendations:
        lines.append(f"- **{rec.workload.name} -> {rec.profile}**: {rec.reason}")
        lines.extend(f"  - Risk: {risk}" for risk in rec.risks)
    lines += ["", *(f"_{text}_" for text in _header(estimate))]
    return "\n".join(lines) + "\n"


#: Version of ``estimate --format json``'s layout (docs/reference.md lists its keys);
#: a change that removes or renames a key raises it.
JSON_SCHEMA_VERSION: Final = 1


def to_data(estimate: Estimate) -> dict[str, Any]:
    """The report as plain data (``--format json``)."""

    def cost(c: Any) -> dict[str, Any]:
        return {
            "nodes": c.nodes,
            "pricePerHour": round(c.price_per_hour, 4),
            "pricePerMonth": round(c.per_month, 2),
            "instanceTypes": list(c.instance_types),
            "unplacedPods": c.unplaced_pods,
        }

    return {
        "schemaVersion": JSON_SCHEMA_VERSION,
        "workloads": [
            {
                "name": r.workload.name,
                "replicas": r.workload.replicas,
                "gpu": r.workload.gpu,
                "gpuSizeGib": r.workload.gpu_size_gib,
                "gpuMemoryGib": r.workload.gpu_memory_gib,
                "busy": r.workload.busy,
                "latencySensitive": r.workload.latency_sensitive,
                "hostRequests": dict(r.workload.host_requests),
                "mode": r.sharing.estimate_name,
                "perGpu": r.share,
                "memoryFactor": r.memory_factor,
                "busyFactor": r.busy_factor,
                "gpusToday": r.pods_today,
                "gpusShared": r.gpus,
                "reason": r.reason,
                "risks": list(r.risks),
            }
            for r in estimate.recommendations
        ],
        "pools": [
            {
                "name": p.pool.name,
                "pods": p.pods,
                "perGpu": p.share,
                "today": cost(p.today),
                "shared": cost(p.shared),
            }
            for p in estimate.pools
        ],
        "today": cost(estimate.today),
        "shared": cost(estimate.shared),
        "saving": round(estimate.saving, 4),
        "samplePodSaving": (
            None if estimate.sample_pod_saving is None else round(estimate.sample_pod_saving, 4)
        ),
        "method": estimate.method,
        "prices": estimate.prices,
        "spot": estimate.spot,
        "discount": estimate.discount,
        "rules": _rules(),
    }


def format_json(estimate: Estimate) -> str:
    """:func:`to_data` as indented JSON."""
    return json.dumps(to_data(estimate), indent=2) + "\n"


def chart_svg(estimate: Estimate) -> str:
    """Bars of $/month per pool, today and with sharing (an SVG document)."""
    pools = estimate.pools
    top = max([p.today.per_month for p in pools] + [1.0])
    bar, gap, height, left, base = 28, 24, 240, 70, 280
    width = left + len(pools) * (2 * bar + gap) + gap + 160
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{base + 60}" '
        f'font-family="sans-serif" font-size="12">',
        f"<title>GPU $/month per pool: today vs with sharing ({estimate.saving:.0%} less)</title>",
        f'<text x="{left}" y="18" font-size="14">$/month per pool: today (grey) vs shared (green), '
        f"{estimate.saving:.0%} less in total</text>",
        f'<line x1="{left}" y1="{base}" x2="{width - 150}" y2="{base}" stroke="black"/>',
    ]
    for i, p in enumerate(pools):
        x = left + gap + i * (2 * bar + gap)
        for j, (value, colour, kind) in enumerate(
            ((p.today.per_month, "#9e9e9e", "today"), (p.shared.per_month, "#2e7d32", "shared"))
        ):
            h = round(height * value / top, 2)
            parts.append(
                f'<rect class="{kind}" data-pool="{escape(p.pool.name)}" data-value="{value:.2f}" '
                f'x="{x + j * bar}" y="{base - h}" width="{bar - 2}" height="{h}" fill="{colour}"/>'
            )
            parts.append(
                f'<text x="{x + j * bar + (bar - 2) / 2}" y="{base - h - 4}" text-anchor="middle" '
                f'font-size="10">{value:,.0f}</text>'
            )
        parts.append(
            f'<text x="{x + bar}" y="{base + 16}" text-anchor="middle">{escape(p.pool.name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def config_yaml(estimate: Estimate, *, cluster_name: str) -> str:
    """A ready gpu-sharing.yaml with the pools (checked by the config reader before returned)."""
    setup = GpuSharingSetup.for_pools([p.pool for p in estimate.pools], cluster_name=cluster_name)
    header = "\n".join(
        [
            "Generated by `eks-gpu-sharing estimate`: one pool per GPU model and sharing profile.",
            "Check clusterName and the karpenter section, then `eks-gpu-sharing synth`.",
            "Workloads per pool:",
            *(
                f"  {p.pool.name}: {', '.join(r.workload.name for r in p.recommendations)}"
                for p in estimate.pools
            ),
        ]
    )
    text = setup_yaml(setup, header=header)
    parse_config(load_yaml(text))  # what we hand out must load
    return text
