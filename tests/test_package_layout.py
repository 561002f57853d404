"""The package's shape: layers that import only downwards, and a model that never starts Node."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "constructs" / "eks_gpu_sharing"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every package module ``path`` imports, anywhere in the file (functions and
    ``if TYPE_CHECKING:`` blocks too: a cycle hidden in either is still a cycle)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import sub`` depends on the submodule; ``from pkg import name`` on pkg.
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            attributes = [alias for alias in node.names if f"{base}.{alias.name}" not in modules]
            candidates = submodules + ([base] if attributes else [])
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found |= {c for c in candidates if c in modules}
    return found - {name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    graph = {}
    for path in paths:
        graph[_module_name(path)] = _imports(path, modules)
    return graph


def test_the_package_has_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = _graph()
    graph["eks_gpu_sharing.sharing.mode"] = graph["eks_gpu_sharing.sharing.mode"] | {
        "eks_gpu_sharing.pool"
    }
    assert any("eks_gpu_sharing.pool" in c for c in _cycles(graph))


@pytest.mark.parametrize(
    "statement",
    [
        "import eks_gpu_sharing",
        "import eks_gpu_sharing.sharing",
        "import eks_gpu_sharing.plan",
        "from eks_gpu_sharing.config import load_config; load_config('gpu-sharing.yaml')",
    ],
)
def test_the_model_and_the_config_reader_load_no_jsii(statement: str) -> None:
    """Node starts with jsii's first import: the data side (modes, pools, plans, the config
    file) must not pay for it."""
    code = (
        f"{statement}\nimport json, sys\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'jsii', 'constructs', 'cdk8s', 'cdk8s_plus_36', 'aws_cdk'})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout.splitlines()[-1]) == []
