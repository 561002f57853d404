#!/usr/bin/env python3
"""Regenerate the NVIDIA GPU instance catalog from Karpenter's own published data.

The catalog (``constructs/eks_gpu_sharing/catalog/gpu_instance_types.json``) is the one source
of instance facts for pool validation, the cost estimate and the scheduling simulator, which
feeds it to the AWS provider's instance-type code through its fake EC2 API. Its inputs:

* Karpenter's generated instance-types reference for the pinned minor, downloaded by the
  maintainer, e.g. ``website/content/en/v1.14/reference/instance-types.md`` of
  aws/karpenter-provider-aws (labels: vCPUs, memory, GPU name/count/memory, local NVMe, ...).
* The static on-demand price table of the pinned provider module
  (``pkg/providers/pricing/zz_generated.pricing_aws.go``), found with ``go list -m``.

    python3 scripts/update_instance_catalog.py --reference instance-types.md
    python3 scripts/update_instance_catalog.py --prices-only   # after a provider-only bump

Network limits (ENIs, IPs per ENI) are not copied: the simulator takes them from the provider's
own ``zz_generated.vpclimits.go`` at run time.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "constructs/eks_gpu_sharing/catalog/gpu_instance_types.json"
GO_MODULE = ROOT / "constructs/eks_gpu_sharing/upstream"
PROVIDER = "github.com/aws/karpenter-provider-aws"

_SECTION = re.compile(r"^### `([^`]+)`$")
_ROW = re.compile(r"^ \|([^|]+)\|([^|]*)\|$")
_PRICE = re.compile(r'"([a-z0-9-]+\.[a-z0-9-]+)": ([0-9.]+)')
_GENERATED = re.compile(r"// generated at (\S+) for (\S+)")


def parse_reference(text: str) -> dict[str, dict[str, dict[str, str]]]:
    """Instance type -> {"labels": {...}, "resources": {...}} from the reference page."""
    types: dict[str, dict[str, dict[str, str]]] = {}
    current: dict[str, dict[str, str]] | None = None
    part = "labels"
    for line in text.splitlines():
        if match := _SECTION.match(line):
            current = types.setdefault(match.group(1), {"labels": {}, "resources": {}})
            part = "labels"
        elif line.startswith("#### Resources"):
            part = "resources"
        elif current is not None and (match := _ROW.match(line)):
            key, value = match.group(1).strip(), match.group(2).strip()
            if key not in ("Label", "Resource", "--"):
                current[part][key] = value
    return types


def parse_prices(text: str) -> tuple[dict[str, float], str, str]:
    """On-demand prices of the first (us-east-1) table, with the generation date and region."""
    generated = _GENERATED.search(text)
    if generated is None:
        raise SystemExit("pricing file has no 'generated at' line")
    body = text.split("var InitialOnDemandPricesAWS", 1)[1].split("\n\t},", 1)[0]
    return {n: float(p) for n, p in _PRICE.findall(body)}, generated.group(1), generated.group(2)


def catalog_entry(
    name: str, labels: dict[str, str], resources: dict[str, str], price: float | None
) -> dict[str, Any]:
    label = "karpenter.k8s.aws/instance-"
    entry: dict[str, Any] = {
        "name": name,
        "architecture": labels["kubernetes.io/arch"],
        "vcpus": int(labels[label + "cpu"]),
        "memoryMiB": int(labels[label + "memory"]),
        "cpuManufacturer": labels.get(label + "cpu-manufacturer"),
        "hypervisor": labels.get(label + "hypervisor") or None,
        "gpu": {
            "name": labels[label + "gpu-name"],
            "manufacturer": labels[label + "gpu-manufacturer"],
            "count": int(labels[label + "gpu-count"]),
            "memoryMiB": int(labels[label + "gpu-memory"]),
        },
        "localNvmeGB": int(labels[label + "local-nvme"])
        if label + "local-nvme" in labels
        else None,
        "efaInterfaces": int(resources.get("vpc.amazonaws.com/efa", "0")),
        "onDemandPricePerHour": price,
    }
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--reference", type=Path, help="Karpenter instance-types.md")
    source.add_argument(
        "--prices-only",
        action="store_true",
        help="keep the catalog's instance facts; refresh the prices from the pinned provider",
    )
    parser.add_argument("--out", type=Path, default=CATALOG)
    args = parser.parse_args()
    module_dir = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", PROVIDER],
        cwd=GO_MODULE,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    pricing_file = Path(module_dir) / "pkg/providers/pricing/zz_generated.pricing_aws.go"
    prices, generated_at, region = parse_prices(pricing_file.read_text())
    version = Path(module_dir).name.split("@", 1)[1]
    prices_source = f"{PROVIDER}@{version} pkg/providers/pricing/zz_generated.pricing_aws.go"
    if args.prices_only:
        document = json.loads(CATALOG.read_text())
        for entry in document["instanceTypes"]:
            entry["onDemandPricePerHour"] = prices.get(entry["name"])
        document["source"].update(
            {"prices": prices_source, "pricesRegion": region, "pricesGeneratedAt": generated_at}
        )
        args.out.write_text(json.dumps(document, indent=1) + "\n")
        print(f"prices of {len(document['instanceTypes'])} instance types written to {args.out}")
        return
    reference = parse_reference(args.reference.read_text())
    entries = [
        catalog_entry(name, data["labels"], data["resources"], prices.get(name))
        for name, data in sorted(reference.items())
        if data["labels"].get("karpenter.k8s.aws/instance-gpu-manufacturer") == "nvidia"
    ]
    minor = version.lstrip("v").rsplit(".", 1)[0]
    document = {
        "source": {
            "instanceTypes": f"Karpenter {version} generated instance-types reference "
            f"(aws/karpenter-provider-aws website/content/en/v{minor}/reference/instance-types.md)",
            "prices": prices_source,
            "pricesRegion": region,
            "pricesGeneratedAt": generated_at,
            "currency": "USD",
        },
        "instanceTypes": entries,
    }
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    print(f"{len(entries)} NVIDIA GPU instance types written to {args.out}")


if __name__ == "__main__":
    main()
