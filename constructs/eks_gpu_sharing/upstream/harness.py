"""Build (once) and call the Go program that runs Karpenter, Helm, the API server's CRD validation
and the device plugin's config loader on our output."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

#: The Go module (go.mod, go.sum, *.go) shipped inside the package.
GO_MODULE_DIR: Final = Path(__file__).resolve().parent
#: The build tag of the commands only the test suite calls (``testtools_*.go``: pod-security,
#: evaluate-policy, prune-allowlist, parse-device-plugin-config). The wheel leaves those files
#: out, and the program ``simulate`` and ``estimate`` build compiles none of them.
TEST_TOOLS_TAG: Final = "testtools"
#: Set to ``1`` (the test suite's conftest does) to build the program with the test tools
#: whenever :func:`upstream` is not told either way, ``simulate`` and ``estimate`` included.
TEST_TOOLS_ENV: Final = "EKS_GPU_SHARING_TEST_TOOLS"
#: Modules whose files (charts) the program reads at run time from the Go module cache.
KARPENTER_MODULE: Final = "github.com/aws/karpenter-provider-aws"
#: Karpenter core (the scheduler), which the provider module requires.
KARPENTER_CORE_MODULE: Final = "sigs.k8s.io/karpenter"
DEVICE_PLUGIN_MODULE: Final = "github.com/NVIDIA/k8s-device-plugin"
#: Where to get Go, for the error a user without it sees.
GO_INSTALL_HINT: Final = (
    "install Go 1.22 or later (https://go.dev/dl/, or your package manager, e.g. "
    "`apt-get install golang-go`); the go command then fetches the pinned 1.26 toolchain and "
    "modules from the Go module proxy by itself. Or point EKS_GPU_SHARING_GO at a go binary"
)
_CALL_TIMEOUT_S: Final = 900


class UpstreamUnavailable(RuntimeError):
    """No Go toolchain, or the pinned modules could not be built."""


class UpstreamError(RuntimeError):
    """The upstream program refused a request (a bug in the request, not in the user's input)."""


def go_command() -> str | None:
    """The ``go`` binary to use: ``$EKS_GPU_SHARING_GO``, ``go`` on PATH, or /usr/local/go."""
    configured = os.environ.get("EKS_GPU_SHARING_GO")
    if configured:
        return configured
    found = shutil.which("go")
    if found:
        return found
    default = Path("/usr/local/go/bin/go")
    return str(default) if default.is_file() else None


def cache_dir() -> Path:
    """``$EKS_GPU_SHARING_CACHE``, else ``$XDG_CACHE_HOME/eks-gpu-sharing`` (``~/.cache``)."""
    configured = os.environ.get("EKS_GPU_SHARING_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "eks-gpu-sharing"


def _go_environment() -> dict[str, str]:
    env = dict(os.environ)
    # go.mod asks for the toolchain the pinned modules need (its `toolchain` line); an older local
    # go fetches it only under "auto". Some installs default to "local" (their go.env), which
    # would refuse the build, so only an explicit version a user chose is kept.
    if os.environ.get("GOTOOLCHAIN", "local").split("+")[0] in ("local", "auto", "path"):
        env["GOTOOLCHAIN"] = "auto"
    # A pure-Go static binary: no C compiler needed, and go.mod/go.sum are never rewritten.
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = "-mod=readonly"
    env["GOWORK"] = "off"
    return env


def _source_files(*, test_tools: bool = False) -> list[Path]:
    """What ``go build`` compiles (with or without the test tools): the cache key's inputs."""
    sources = [p for p in GO_MODULE_DIR.glob("*.go") if test_tools or not _is_test_tool(p)]
    return sorted([GO_MODULE_DIR / "go.mod", GO_MODULE_DIR / "go.sum", *sources])


def _is_test_tool(path: Path) -> bool:
    """Whether a Go file builds only with the test tools (its ``//go:build testtools`` line)."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("package "):
                return False
            if line.strip() == f"//go:build {TEST_TOOLS_TAG}":
                return True
    return False


@contextlib.contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """One build at a time per cache folder (parallel test workers share one binary)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "build.lock", "w") as handle:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        except ImportError:  # no advisory locks on this platform: builds may race, harmlessly
            pass
        yield


@dataclass(frozen=True)
class Upstream:
    """A built upstream program. Use :func:`upstream` to get one.

    :param binary: The program.
    :param modules: Versions of the pinned upstream modules it was built from.
    """

    binary: Path
    modules: Mapping[str, str]

    def call(self, command: str, **request: Any) -> dict[str, Any]:
        """Send one request; return the JSON answer. Raises UpstreamError if it is refused."""
        payload = json.dumps({"command": command, **request})
        result = subprocess.run(
            [str(self.binary)],
            input=payload,
            capture_output=True,
            text=True,
            timeout=_CALL_TIMEOUT_S,
            check=False,
        )
        try:
            answer = json.loads(result.stdout) if result.stdout.strip() else {}
        except json.JSONDecodeError:
            answer = {}
        if result.returncode != 0 or "error" in answer:
            detail = answer.get("error") or result.stderr.strip()[-2000:] or result.stdout[-2000:]
            raise UpstreamError(f"{command}: {detail}")
        return answer

    def validate(self, objects: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The API server's create path for each Karpenter object: ``errors`` and ``stored``."""
        results: list[dict[str, Any]] = self.call("validate", objects=list(objects))["results"]
        return results

    def render_chart(
        self,
        chart: str,
        *,
        release: str,
        namespace: str,
        values: Mapping[str, Any],
        kube_version: str | None = None,
    ) -> dict[str, Any]:
        """Render a pinned chart (``karpenter``, ``karpenter-crd``, ``nvidia-device-plugin``)
        client-only with Helm's own install action; ``objects``, ``crds``, ``chart``, ``error``."""
        request: dict[str, Any] = {
            "chart": chart,
            "release": release,
            "namespace": namespace,
            "values": dict(values),
        }
        if kube_version:
            request["kubeVersion"] = kube_version
        return self.call("render-chart", **request)

    def parse_device_plugin_configs(self, configs: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        """Load each ConfigMap value with the device plugin's api/config/v1 loader (test tools:
        ``upstream(test_tools=True)``)."""
        results: dict[str, dict[str, Any]] = self.call(
            "parse-device-plugin-config", configs=dict(configs)
        )["results"]
        return results

    def instance_types(
        self,
        catalog: Mapping[str, Any],
        node_class: Mapping[str, Any],
        controller_env: Mapping[str, str],
    ) -> list[dict[str, Any]]:
        """Every catalog type as the AWS provider resolves it for ``node_class``."""
        answer = self.call(
            "instance-types",
            catalog=dict(catalog),
            nodeClass=dict(node_class),
            controllerEnv=dict(controller_env),
        )
        types: list[dict[str, Any]] = answer["instanceTypes"]
        return types

    def karpenter_crds(self) -> list[dict[str, Any]]:
        """The CRDs the pinned Karpenter provider's code embeds (``pkg/apis/crds``)."""
        crds: list[dict[str, Any]] = self.call("karpenter-crds")["crds"]
        return crds

    def pod_security(
        self, namespace_labels: Mapping[str, str], pods: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Pod Security admission's evaluator on pod templates (name -> ``{metadata, spec}``) in
        a namespace with ``namespace_labels``: ``policy`` (mode -> level:version), ``errors``
        (bad labels) and, per pod, ``forbidden`` (mode -> why). Test tools only."""
        request = [
            {"name": name, "metadata": t.get("metadata", {}), "spec": t["spec"]}
            for name, t in pods.items()
        ]
        return self.call("pod-security", namespaceLabels=dict(namespace_labels), pods=request)

    def evaluate_policy(
        self, policy: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
    ) -> dict[str, list[str]]:
        """What a ValidatingAdmissionPolicy's validations decide for each pod being created
        (compiled and evaluated as kube-apiserver's policy plugin does; matching is not
        evaluated): pod name -> the messages of the validations it fails (empty: admitted).
        Test tools only."""
        answer = self.call("evaluate-policy", policy=dict(policy), pods=[dict(p) for p in pods])
        return {v["name"]: v["denied"] for v in answer["verdicts"]}

    def prune_kinds(self, allowlist: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The kinds ``kubectl apply --prune`` deletes when they leave the applied set: kubectl's
        default allowlist (what aws-cdk-lib's kubectl handler uses), or ``allowlist`` as kubectl
        parses ``--prune-allowlist`` values. Each: ``group``, ``version``, ``kind``,
        ``namespaced``. Raises UpstreamError with kubectl's message if it refuses a value.
        Test tools only."""
        answer = self.call("prune-allowlist", allowlist=list(allowlist))
        if answer.get("error"):
            raise UpstreamError(f"kubectl refuses the prune allowlist: {answer['error']}")
        kinds: list[dict[str, Any]] = answer["kinds"]
        return kinds

    def simulate(self, **request: Any) -> dict[str, Any]:
        """One Karpenter provisioning round (see ``simulate.go`` for the request)."""
        return self.call("simulate", **request)


def upstream(
    log: Callable[[str], None] | None = None, *, test_tools: bool | None = None
) -> Upstream:
    """Build the upstream program if needed (minutes the first time, cached after) and return it.

    :param log: Called with a progress line before a build starts. Default: silent.
    :param test_tools: Also build the commands only the tests call (a source checkout's
        ``testtools_*.go``; the wheel has none). Default: ``$EKS_GPU_SHARING_TEST_TOOLS`` is 1.
    :raises UpstreamUnavailable: without a Go toolchain, or when the build fails.
    """
    if test_tools is None:
        test_tools = os.environ.get(TEST_TOOLS_ENV) == "1"
    return _upstream(log, test_tools)


@cache
def _upstream(log: Callable[[str], None] | None, test_tools: bool) -> Upstream:
    sources = _source_files(test_tools=test_tools)
    if test_tools and sources == _source_files():
        raise UpstreamUnavailable(
            f"the test tools (testtools_*.go) are not in {GO_MODULE_DIR}: they come with a "
            "source checkout, not with the wheel"
        )
    go = go_command()
    if go is None:
        raise UpstreamUnavailable(
            f"this needs a Go toolchain, and none was found: {GO_INSTALL_HINT}"
        )
    env = _go_environment()
    try:
        go_version = _run([go, "env", "GOVERSION", "GOOS", "GOARCH"], env=env).split()
    except UpstreamUnavailable as error:
        raise UpstreamUnavailable(f"{error}; {GO_INSTALL_HINT}") from None
    digest = hashlib.sha256(" ".join(go_version).encode())
    if test_tools:
        digest.update(f" -tags {TEST_TOOLS_TAG}".encode())
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    directory = cache_dir()
    binary = directory / f"upstream-{digest.hexdigest()[:20]}"
    metadata = binary.with_suffix(".json")
    with _build_lock(directory):
        built = _load_metadata(metadata)
        if binary.is_file() and built is not None:
            verified = _verified_copy(binary)
            if verified is not None:
                return Upstream(verified, built["modules"])
        if log is not None:
            log(
                f"Building the upstream checks (Karpenter, Helm, device plugin) with "
                f"{go_version[0]} into {directory}; the first build downloads modules and takes "
                "several minutes."
            )
        with _heartbeat(log, "fetching the Karpenter and device plugin modules"):
            modules = _module_dirs(go, env)
        flags = " ".join(
            [
                "-s -w",
                f"-X main.karpenterModuleDir={modules[KARPENTER_MODULE]['Dir']}",
                f"-X main.devicePluginModuleDir={modules[DEVICE_PLUGIN_MODULE]['Dir']}",
                f"-X main.devicePluginVersion={modules[DEVICE_PLUGIN_MODULE]['Version']}",
            ]
        )
        tags = ["-tags", TEST_TOOLS_TAG] if test_tools else []
        with tempfile.TemporaryDirectory(dir=directory) as staging:
            staged = Path(staging) / binary.name
            # `go build` downloads the remaining modules (most of the first build's ~800 MB).
            with _heartbeat(log, "downloading the other modules and compiling Karpenter, Helm"):
                _run([go, "build", *tags, "-ldflags", flags, "-o", str(staged), "."], env=env)
            os.replace(staged, binary)
        versions = {name: module["Version"] for name, module in modules.items()}
        dirs = [module["Dir"] for module in modules.values()]
        metadata.write_text(json.dumps({"modules": versions, "moduleDirs": dirs}))
        _trust(binary)
        verified = _verified_copy(binary)
        if verified is None:
            raise UpstreamUnavailable(f"{binary} changed while it was being built")
        return Upstream(verified, versions)


# -- the cached binary is verified before it runs ----------------------------------------------
# The cache folder may be shared ($XDG_CACHE_HOME on a shared machine), so a binary planted
# there under the predictable name must never run. The hash of each binary this installation
# built is kept where the cache's other writers cannot change it: in the virtualenv (or the
# user's state folder when the interpreter's prefix is not writable). The verified bytes are
# copied into a private folder and run from there, so the file cannot be swapped after the
# check.


def _trust_file() -> Path:
    prefix = Path(sys.prefix)
    if os.access(prefix, os.W_OK):
        return prefix / "share" / "eks-gpu-sharing" / "trusted-upstream.json"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "eks-gpu-sharing" / "trusted-upstream.json"


def _trusted() -> dict[str, str]:
    try:
        trusted = json.loads(_trust_file().read_text())
    except (OSError, ValueError):
        return {}
    return trusted if isinstance(trusted, dict) else {}


def _trust(binary: Path) -> None:
    """Record the hash of a binary this installation just built."""
    path = _trust_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    trusted = {**_trusted(), binary.name: hashlib.sha256(binary.read_bytes()).hexdigest()}
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_text(json.dumps(trusted, indent=1, sort_keys=True))
    os.replace(staged, path)


def _verified_copy(binary: Path) -> Path | None:
    """A private copy of ``binary`` if its bytes are the ones this installation built, else
    None (then it is built again)."""
    expected = _trusted().get(binary.name)
    if expected is None:
        return None
    content = binary.read_bytes()
    if hashlib.sha256(content).hexdigest() != expected:
        return None
    private = Path(tempfile.mkdtemp(prefix="eks-gpu-sharing-upstream-"))
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    copy = private / binary.name
    descriptor = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    return copy


def _load_metadata(path: Path) -> dict[str, Any] | None:
    """The build record, if the module folders it points at are still in the module cache."""
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if all(Path(d).is_dir() for d in record.get("moduleDirs", ())):
        return record
    return None


def _module_dirs(go: str, env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Download the chart-holding modules (checked against go.sum) and return their folders."""
    # `go list -m` names a module's folder only once it is in the module cache; `go mod download`
    # fetches it first (the versions are go.mod's).
    output = _run([go, "mod", "download", "-json", KARPENTER_MODULE, DEVICE_PLUGIN_MODULE], env=env)
    decoder = json.JSONDecoder()
    modules: dict[str, dict[str, str]] = {}
    position = 0
    while position < len(output):
        if output[position].isspace():
            position += 1
            continue
        module, position = decoder.raw_decode(output, position)
        modules[module["Path"]] = module
    return modules


#: How often a long build step says it is still working.
_HEARTBEAT_S: Final = 30.0


@contextlib.contextmanager
def _heartbeat(log: Callable[[str], None] | None, doing: str) -> Iterator[None]:
    """Say what a minutes-long step is doing every ``_HEARTBEAT_S`` until it ends (a silent
    first build looks hung)."""
    if log is None:
        yield
        return
    start = time.monotonic()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(_HEARTBEAT_S):
            log(f"  ... {doing}: {time.monotonic() - start:.0f} s so far")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        log(f"  {doing}: done in {time.monotonic() - start:.0f} s")


def _run(command: Sequence[str], *, env: Mapping[str, str]) -> str:
    try:
        result = subprocess.run(
            list(command),
            cwd=GO_MODULE_DIR,
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise UpstreamUnavailable(f"`{command[0]}` could not be run ({error})") from None
    if result.returncode != 0:
        raise UpstreamUnavailable(
            f"`{' '.join(command[:3])}` failed in {GO_MODULE_DIR}:\n{result.stderr.strip()[-3000:]}"
        )
    return result.stdout


def main() -> None:  # pragma: no cover - a command
    """``python -m eks_gpu_sharing.upstream [--test-tools]``: build now (with the commands only
    the tests call), print the binary and versions."""
    test_tools = "--test-tools" in sys.argv[1:] or None
    built = upstream(log=lambda line: print(line, file=sys.stderr), test_tools=test_tools)
    print(built.binary)
    for name, version in sorted(built.call("versions")["modules"].items()):
        print(f"  {name} {version}")
