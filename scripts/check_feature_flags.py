#!/usr/bin/env python3
"""Which of cdk.json's feature flags change the reference app's templates?

cdk.json carries the flags `cdk init` writes for a new app (aws-cdk-lib 2.275, CDK CLI
2.1148.1). This synthesizes app.py once with none of them and once per flag with only that
flag, in one process, and lists the flags whose templates differ and the resources they touch.
The README's "Feature flags" paragraph quotes its result.

    .venv/bin/python scripts/check_feature_flags.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import app as reference  # noqa: E402 (the reference app, from the repository root)


def templates(context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as outdir:
        reference.build_app(outdir, context).synth()
        found = {}
        for path in Path(outdir).glob("*.template.json"):
            template = json.loads(path.read_text())
            template.get("Resources", {}).pop("CDKMetadata", None)  # names the flags in use
            found[path.name] = template
        return found


def differences(base: dict[str, Any], other: dict[str, Any]) -> list[str]:
    changes = []
    for name in sorted(set(base) | set(other)):
        before = base.get(name, {}).get("Resources", {})
        after = other.get(name, {}).get("Resources", {})
        changes += [f"+{r}" for r in sorted(set(after) - set(before))]
        changes += [f"-{r}" for r in sorted(set(before) - set(after))]
        changes += [f"~{r}" for r in sorted(set(before) & set(after)) if before[r] != after[r]]
    return changes


def main() -> None:
    flags = json.loads((ROOT / "cdk.json").read_text())["context"]
    base = templates({})
    changing = {}
    for flag, value in flags.items():
        if changes := differences(base, templates({flag: value})):
            changing[flag] = changes
    print(f"{len(flags)} flags in cdk.json; {len(changing)} change the reference app's templates:")
    for flag, changes in changing.items():
        print(f"  {flag} = {json.dumps(flags[flag])}: {len(changes)} resource(s), e.g.")
        print("    " + ", ".join(changes[:4]))


if __name__ == "__main__":
    main()
