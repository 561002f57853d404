"""Property-based suite over the config reader, the renderer and the CLI together (cross-cutting:
config.py, render.py, output_folder.py and cli.py on the same generated inputs).

For every generated input, whatever the config file and the state of the output folder:

* no traceback: the CLI returns 0 or 2 (never raises), and 2 comes with an error that names the
  field of every problem the reader found;
* after a failure the output folder is byte-identical, and nothing outside ``--out`` is ever
  created, changed or deleted (including links planted inside the output folder);
* after a success the folder holds exactly what ``rendered_files`` says, plus the other files
  that were there;
* the reader answers within bounded time and memory.
* an edited record never makes synth delete a file that is not of synth's names;
* a write killed or signalled at a random staged file or rename leaves, after the next check,
  exactly the old state or the new one, and no temporary file.

Inputs are the reference ``gpu-sharing.yaml`` with values replaced at random places by random
YAML values (so most get past the parser and exercise the checks), and the same text with random
edits (so the parser and the loader's limits are exercised too). The number of examples is
``EKS_GPU_SHARING_FUZZ_EXAMPLES`` (default: a few hundred, a minute or two on CI).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from eks_gpu_sharing.cli import main
from eks_gpu_sharing.config import load_yaml, parse_config
from eks_gpu_sharing.errors import ConfigurationError, printable
from eks_gpu_sharing.output_folder import RECORD, compare_files, write_files
from eks_gpu_sharing.render import rendered_files
from tests.folder_snapshot import snapshot

ROOT = Path(__file__).resolve().parents[1]
CONFIG_TEXT = (ROOT / "gpu-sharing.yaml").read_text()
CONFIG = yaml.safe_load(CONFIG_TEXT)
EXAMPLES = int(os.environ.get("EKS_GPU_SHARING_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- inputs -------------------------------------------------------------------------------------

INTERESTING_TEXT = [
    "",
    " ",
    "batch\n",
    "NVIDIA",
    "nvidia\nimage: {repository: evil.example.com/plugin, tag: v1}",
    "../../etc",
    "/etc/passwd",
    "a" * 300,
    "é",
    "\x00",
    "v1.14.1",
    "1.14",
    "1.14.1",
    "time-slicing",
    "mps",
    "none",
    "a100x",
    "m5",
    "inf2",
    "g5",
    "t4",
    "arm64",
    "amd64",
    "Bottlerocket",
    "spot",
    "5m",
    "Never",
    "NoSchedule",
    "karpenter.sh/nodepool",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**80), max_value=10**80),
    st.sampled_from([0, 1, 2, 4, 48, 49, 256, 257, 10**60, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(INTERESTING_TEXT),
    st.text(max_size=40),
)
yaml_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(INTERESTING_TEXT), st.text(max_size=12)), children, max_size=4
        ),
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


PATHS = _paths(CONFIG)
KEYS = sorted({str(path[-1]) for path in PATHS if isinstance(path[-1], str)})


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    """The reference config with 1-3 values replaced, keys added or keys removed."""
    document = yaml.safe_load(CONFIG_TEXT)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = document
        try:
            for step in path[:-1]:
                parent = parent[step]
            action = draw(st.sampled_from(["replace", "replace", "add", "remove"]))
            if action == "replace":
                parent[path[-1]] = draw(yaml_values)
            elif action == "add" and isinstance(parent, dict):
                parent[draw(st.sampled_from(KEYS))] = draw(yaml_values)
            elif isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, list):
                parent.pop(path[-1])
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change replaced part of the path: keep what we have
    return document


YAML_PIECES = [
    "&a ",
    "*a",
    "!!python/object:os.system ",
    "!!binary ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    ", ",
    "- ",
    "\n",
    "\t",
    "#",
    "'",
    '"',
    "|\n",
    "---\n",
    "? ",
    "<<: ",
    "~",
    "9" * 5000,
    "[" * 500,
    "\xff",
    "\ufeff",
    "\r",
]


@st.composite
def edited_texts(draw: st.DrawFn) -> bytes:
    """The reference config text with 1-4 random edits (YAML syntax, bad bytes, huge tokens)."""
    text = CONFIG_TEXT.encode()
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(text)))
        end = min(len(text), start + draw(st.integers(0, 20)))
        piece = draw(st.one_of(st.sampled_from(YAML_PIECES), st.text(max_size=10)))
        raw = piece.encode("latin-1") if piece == "\xff" else piece.encode()
        text = text[:start] + raw + text[end:]
    return text


config_bytes = st.one_of(
    mutated_documents().map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode()),
    edited_texts(),
)

# The state the output folder is in before synth: what a careless or hostile user leaves there.
FolderSetup = Callable[[Path, Path], None]


def _previous_synth(out: Path, outside: Path) -> None:
    assert main(["synth", "--config", str(ROOT / "gpu-sharing.yaml"), "--out", str(out)]) == 0
    (out / "kustomization.yaml").write_text("resources: []\n")


def _helm_links_outside(out: Path, outside: Path) -> None:
    _previous_synth(out, outside)
    shutil.rmtree(out / "helm")
    (out / "helm").symlink_to(outside)


def _file_links_outside(out: Path, outside: Path) -> None:
    _previous_synth(out, outside)
    (out / "01-pool-inference.k8s.yaml").unlink()
    (out / "01-pool-inference.k8s.yaml").symlink_to(outside / "precious.yaml")


def _record_points_outside(out: Path, outside: Path) -> None:
    _previous_synth(out, outside)
    header = (out / RECORD).read_text().splitlines()[0]
    (out / RECORD).write_text(f"{header}\n../outside/precious.yaml\n{outside}/precious.yaml\n")


def _helm_is_a_file(out: Path, outside: Path) -> None:
    _previous_synth(out, outside)
    shutil.rmtree(out / "helm")
    (out / "helm").write_text("a file\n")


def _out_is_a_file(out: Path, outside: Path) -> None:
    out.write_text("a file\n")


def _out_is_a_dangling_link(out: Path, outside: Path) -> None:
    out.symlink_to(out.parent / "nowhere")


def _out_links_to_a_folder(out: Path, outside: Path) -> None:
    (out.parent / "real-out").mkdir()
    out.symlink_to(out.parent / "real-out")


def _no_folder(out: Path, outside: Path) -> None:
    pass


FOLDER_SETUPS: list[FolderSetup] = [
    _no_folder,
    _previous_synth,
    _helm_links_outside,
    _file_links_outside,
    _record_points_outside,
    _helm_is_a_file,
    _out_is_a_file,
    _out_is_a_dangling_link,
    _out_links_to_a_folder,
]


def reader_fields(data: bytes) -> list[str] | None:
    """The fields the reader names for ``data``, or None when it accepts it."""
    with tempfile.NamedTemporaryFile(suffix=".yaml") as handle:
        handle.write(data)
        handle.flush()
        from eks_gpu_sharing.config import load_config

        try:
            load_config(handle.name)
        except ConfigurationError as error:
            return [problem.field for problem in error.problems]
    return None


@contextlib.contextmanager
def _private_temp_folder() -> Iterator[Path]:
    """A fresh folder that ``tempfile`` (the renderer's staging folder) uses while the block
    runs, so that another run sharing the system's temporary folder cannot disturb the check."""
    folder = Path(tempfile.mkdtemp(prefix="hostile-tmp-"))
    saved = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(folder)


def _staging_folders(folder: Path) -> set[str]:
    return {n for n in os.listdir(folder) if n.startswith("eks-gpu-sharing-")}


# -- properties ---------------------------------------------------------------------------------


@FUZZ
@given(data=config_bytes)
def test_the_reader_answers_every_input_with_a_config_or_named_errors(data: bytes) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return  # load_config's UTF-8 check, covered by the CLI property
        try:
            config = parse_config(load_yaml(text))
        except ConfigurationError as error:
            event(f"{len(error.problems)} problem(s)")
            assert error.problems and all(p.field and p.rule and p.fix for p in error.problems)
            assert len(str(error)) < 400 * len(error.problems) + 100
        else:
            event("accepted")
            assert config.pools
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.perf_counter() - started < 5
    assert peak < 64 * 1024 * 1024


@settings(FUZZ, max_examples=max(EXAMPLES // 3, 20))
@given(data=config_bytes, setup=st.sampled_from(FOLDER_SETUPS))
def test_synth_fails_cleanly_or_writes_exactly_its_files(data: bytes, setup: FolderSetup) -> None:
    with tempfile.TemporaryDirectory() as scratch, _private_temp_folder() as private_tmp:
        workspace = Path(scratch)
        config, out, outside = workspace / "config.yaml", workspace / "out", workspace / "outside"
        outside.mkdir()
        (outside / "precious.yaml").write_text("someone else's\n")
        setup(out, outside)
        config.write_bytes(data)
        before_out, before_outside = snapshot(out), snapshot(outside)
        before_workspace = set(os.listdir(workspace))

        stdout, stderr = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main(["synth", "--config", str(config), "--out", str(out)])
        elapsed = time.perf_counter() - started

        err = stderr.getvalue()
        event(f"exit {status}")
        event(f"folder: {getattr(setup, '__name__', 'empty')}")
        assert status in (0, 2), err
        assert "Traceback" not in err
        assert snapshot(outside) == before_outside
        assert set(os.listdir(workspace)) == before_workspace | ({"out"} if status == 0 else set())
        assert not _staging_folders(private_tmp)
        assert elapsed < 60
        fields = reader_fields(data)
        if status == 2:
            assert err.startswith("eks-gpu-sharing: error: "), err
            assert snapshot(out) == before_out
            # The reader's problems, or (when it accepted the file) the output folder's.
            for field in fields or ["--out"]:
                # Shown with control and unassigned characters escaped (errors.printable).
                # A key of the file in its words (`key: value -- rule`), an option as typed
                # (`--out=value: rule`).
                given = f"{printable(field)}" + ("=" if field.startswith("--") else ": ")
                assert given in err, (field, err)
        else:
            assert fields is None
            expected = rendered_files(parse_config(yaml.safe_load(data.decode())))
            after = snapshot(out)
            for name, content in expected.items():
                assert after[name] == content
            # Only files the previous synth recorded may disappear (and their emptied folders);
            # everything else that was there is unchanged.
            record = before_out.get(RECORD, b"")
            recorded = set(record.decode().splitlines()[1:]) if isinstance(record, bytes) else set()
            for name, value in before_out.items():
                if name in expected or name == RECORD:
                    continue
                if name in recorded or (
                    value == "<dir>" and any(r.startswith(f"{name}/") for r in recorded)
                ):
                    assert name not in after or value == "<dir>"
                else:
                    assert after.get(name) == value, name


# -- the record: whatever a pull request writes into it, synth deletes only its own files -----

record_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "README.md",
                ".git/config",
                "../outside/precious.yaml",
                "01-pool-inference.k8s.yaml",
                "02-pool-batch.k8s.yaml",
                "99-pool-old.k8s.yaml",
                "helm/nvidia-device-plugin-values.yaml",
                "helm/../README.md",
                "kustomization.yaml",
                "quota.k8s.yaml",
                "",
            ]
        ),
        st.text(max_size=40),
    ),
    max_size=6,
)


@settings(FUZZ, max_examples=max(EXAMPLES // 3, 20))
@given(lines=record_lines)
def test_an_edited_record_deletes_nothing_that_is_not_synths(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch, _private_temp_folder():
        workspace = Path(scratch)
        out, outside = workspace / "out", workspace / "outside"
        outside.mkdir()
        (outside / "precious.yaml").write_text("someone else's\n")
        _previous_synth(out, outside)
        for name in ("README.md", "quota.k8s.yaml", "99-pool-old.k8s.yaml"):
            (out / name).write_text("the team's\n")
        (out / ".git").mkdir()
        (out / ".git" / "config").write_text("[core]\n")
        record = out / RECORD
        record.write_text(record.read_text() + "".join(f"{line}\n" for line in lines))
        before_out, before_outside = snapshot(out), snapshot(outside)
        stderr = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
            status = main(["synth", "--config", str(ROOT / "gpu-sharing.yaml"), "--out", str(out)])
        event(f"exit {status}")
        assert status in (0, 2), stderr.getvalue()
        assert snapshot(outside) == before_outside
        after = snapshot(out)
        if status == 2:
            assert "line" in stderr.getvalue() and after == before_out
        # Only files of synth's names may go; the team's stay, whatever the record said.
        for name in ("README.md", "quota.k8s.yaml", ".git/config", "kustomization.yaml"):
            assert after.get(name) == before_out.get(name), name


# -- signals and kills at random points of a write -----------------------------------------------


@settings(FUZZ, max_examples=max(EXAMPLES // 15, 10))
@given(
    where=st.sampled_from(["stage", "replace"]),
    nth=st.integers(min_value=1, max_value=8),
    sig=st.sampled_from([signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP]),
)
def test_a_write_interrupted_anywhere_leaves_the_old_state_or_the_new(
    where: str, nth: int, sig: int
) -> None:
    """A second process writes NEW over OLD and gets ``sig`` at a random staged file or rename;
    after the next check (which recovers) the folder is exactly one of the two states."""
    from tests.test_output_folder import NEW, OLD, _interrupted_write

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        write_files(out, OLD)
        (out / "kustomization.yaml").write_text("resources: []\n")
        old = snapshot(out)
        status = _interrupted_write(out, where, nth, sig)
        event(f"exit {status}")
        compare_files(out, NEW)
        after = snapshot(out)
        assert after == old or not compare_files(out, NEW), after
        assert not any(".eks-gpu-sharing-tmp." in name for name in after)
        assert after.get("kustomization.yaml") == b"resources: []\n"
