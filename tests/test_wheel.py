"""The install path users take (cross-cutting: packaging, pyproject.toml and the upstream
build): build the wheel with build isolation, install it with the ``[node]`` extra into a
brand-new virtualenv, and run the examples from the installed package, never from this
checkout. The wheel, and the Go build ``simulate`` makes from it, leave out the Go commands only
the tests call."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from eks_gpu_sharing.upstream.harness import (
    GO_MODULE_DIR,
    TEST_TOOLS_TAG,
    _go_environment,
    _is_test_tool,
    _source_files,
    go_command,
)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed: run `make setup`")
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # A copy of the tracked files, as a source distribution would have them: no .venv, no
    # build leftovers, nothing the checkout happens to hold.
    source = tmp_path_factory.mktemp("source") / "eks-gpu-sharing"
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [_uv(), "build", "--wheel", "--quiet", "--out-dir", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (built,) = out.glob("eks_gpu_sharing-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    venv = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            f"{wheel}[node]",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    yield venv


def test_the_wheel_carries_its_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    package = "eks_gpu_sharing/"
    for expected in (
        "py.typed",
        "starter.yaml",
        "catalog/gpu_instance_types.json",
        "catalog/mig_profiles.json",
        "upstream/go.mod",
        "upstream/go.sum",
        "upstream/main.go",
    ):
        assert package + expected in names, expected
    assert not any(n.startswith(("tests/", "constructs/")) for n in names)


def test_the_wheel_leaves_the_test_only_go_commands_out(wheel: Path) -> None:
    """The commands only the tests call (build tag ``testtools``) are not shipped: the wheel
    holds exactly the Go files of the program ``simulate`` builds."""
    go_files = {p.name for p in GO_MODULE_DIR.glob("*.go")}
    test_tools = {name for name in go_files if _is_test_tool(GO_MODULE_DIR / name)}
    # pyproject.toml excludes testtools_*.go: every tagged file, and only those, is named so.
    assert test_tools == {p.name for p in GO_MODULE_DIR.glob("testtools_*.go")}
    assert {
        "testtools_podsecurity.go",
        "testtools_policy.go",
        "testtools_prune.go",
        "testtools_deviceplugin.go",
    } <= test_tools
    prefix = "eks_gpu_sharing/upstream/"
    shipped = {
        n.removeprefix(prefix)
        for n in zipfile.ZipFile(wheel).namelist()
        if n.startswith(prefix) and n.endswith(".go")
    }
    assert shipped == go_files - test_tools


def _go_list(template: str, *tags: str) -> list[str]:
    go = go_command()
    if go is None:
        pytest.fail("the upstream checks need Go: see eks_gpu_sharing.upstream")
    listed = subprocess.run(
        [go, "list", *tags, "-deps", "-f", template, "."],
        cwd=GO_MODULE_DIR,
        env=_go_environment(),
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return listed.stdout.split()


@pytest.mark.parametrize("test_tools", [False, True])
def test_the_build_compiles_exactly_the_files_its_cache_key_covers(test_tools: bool) -> None:
    """Go's own file selection for each build is what harness.py hashes; the user's build
    (``simulate``, ``estimate``) links neither the device plugin's Go code nor the Pod Security
    evaluator, which only the test tools use (the device plugin's chart is read as files)."""
    tags = ("-tags", TEST_TOOLS_TAG) if test_tools else ()
    main_files = _go_list('{{if eq .Name "main"}}{{join .GoFiles " "}}{{end}}', *tags)
    keyed = {p.name for p in _source_files(test_tools=test_tools)} - {"go.mod", "go.sum"}
    assert set(main_files) == keyed
    packages = _go_list("{{if not .Standard}}{{.ImportPath}}{{end}}", *tags)
    test_only = [
        p
        for p in packages
        if p.startswith(("github.com/NVIDIA/k8s-device-plugin/", "k8s.io/pod-security-admission/"))
    ]
    assert bool(test_only) == test_tools, test_only


def _user_env(venv: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "EKS_GPU_SHARING_TEST_TOOLS")
    }
    # The user's PATH: their virtualenv (with the [node] extra's Node.js) and the system.
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    env["CDK_DISABLE_VERSION_CHECK"] = "true"
    return env


def test_the_example_app_synthesizes_from_the_installed_package(
    installed: Path, tmp_path: Path
) -> None:
    example = tmp_path / "existing_cluster"
    shutil.copytree(ROOT / "examples" / "existing_cluster", example)
    outdir = tmp_path / "cdk.out"
    done = subprocess.run(
        [str(installed / "bin" / "python"), "app.py"],
        cwd=example,
        env={**_user_env(installed), "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in outdir.glob("*.template.json"))
    # jsii ran on the [node] extra's Node.js 24, quietly: no end-of-life banner.
    assert "end-of-life" not in done.stderr


def test_the_console_command_runs_from_the_installed_package(
    installed: Path, tmp_path: Path
) -> None:
    cli = str(installed / "bin" / "eks-gpu-sharing")
    env = _user_env(installed)
    version = subprocess.run(
        [cli, "--version"], env=env, capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("eks-gpu-sharing 0.")
    assert subprocess.run([cli, "init"], cwd=tmp_path, env=env, capture_output=True).returncode == 0
    done = subprocess.run(
        [cli, "synth"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "manifests").glob("*.k8s.yaml"))
    # Help points at the guide the wheel installed, which a pip user can open.
    shown = subprocess.run([cli, "--help"], env=env, capture_output=True, text=True, check=True)
    guide = shown.stdout.split("The guide: ")[1].split()[0]
    assert Path(guide).is_file() and Path(guide).is_relative_to(installed), guide
    # Run by path, the virtualenv not activated: the command still uses the Node 24 of its own
    # environment, not the system's (jsii would print its end-of-life banner for Node 20).
    bare = {**env, "PATH": "/usr/local/bin:/usr/bin:/bin"}
    done = subprocess.run(
        [cli, "synth", "--out", "again"], cwd=tmp_path, env=bare, capture_output=True, text=True
    )
    assert done.returncode == 0 and "end-of-life" not in done.stderr, done.stderr
    for examples in ("sharing-modes.yaml",):
        shutil.copy(ROOT / "examples" / examples, tmp_path / examples)
        assert (
            subprocess.run(
                [cli, "synth", "--config", examples, "--out", "modes"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                timeout=300,
            ).returncode
            == 0
        )
