"""The output folder (output_folder.py): a failed synth changes nothing, no link is followed
out of the folder, and only files synth wrote are replaced or deleted."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from eks_gpu_sharing import output_folder
from eks_gpu_sharing.cli import main
from eks_gpu_sharing.config import load_config
from eks_gpu_sharing.errors import ConfigurationError
from eks_gpu_sharing.output_folder import JOURNAL, RECORD, compare_files, write_files
from eks_gpu_sharing.render import compare, synth
from tests.folder_snapshot import snapshot

FILES = {"01-a.k8s.yaml": b"a: 1\n", "helm/values.yaml": b"v: 1\n"}
CONFIG = Path(__file__).resolve().parents[1] / "gpu-sharing.yaml"


def _unprivileged() -> list[str] | None:
    """The command prefix that runs a process bound by file modes: none for a user other than
    root. Root writes into read-only folders through its capabilities (CAP_DAC_OVERRIDE), so as
    root util-linux's setpriv drops them all (bounding and inheritable sets); the uid stays 0,
    so the interpreter under root's 0700 home remains reachable. None: root without setpriv."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"] if setpriv else None


UNPRIVILEGED = _unprivileged()


def _fail_call(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, nth: int, error: Exception
) -> None:
    """Make the ``nth`` call of ``owner.name`` raise ``error``; the others run as they would."""
    real = getattr(owner, name)
    calls = 0

    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, call)


def test_writes_the_files_and_a_record_kubectl_does_not_read(tmp_path: Path) -> None:
    written = write_files(tmp_path / "out", FILES)
    assert written == [tmp_path / "out" / name for name in sorted(FILES)]
    assert snapshot(tmp_path / "out") == {
        RECORD: f"{(tmp_path / 'out' / RECORD).read_text()}".encode(),
        "01-a.k8s.yaml": b"a: 1\n",
        "helm": "<dir>",
        "helm/values.yaml": b"v: 1\n",
    }
    assert (tmp_path / "out" / RECORD).read_text().splitlines()[1:] == sorted(FILES)
    # kubectl apply -f <folder>/ and Argo CD read every *.json, *.yaml and *.yml file.
    assert Path(RECORD).suffix not in {".json", ".yaml", ".yml"}


def test_replaces_and_deletes_only_recorded_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_files(out, FILES)
    (out / "02-someone-else.k8s.yaml").write_bytes(b"theirs\n")
    (out / "helm" / "their-values.yaml").write_bytes(b"theirs\n")
    write_files(out, {"01-a.k8s.yaml": b"a: 2\n"})
    assert (out / "01-a.k8s.yaml").read_bytes() == b"a: 2\n"
    assert not (out / "helm" / "values.yaml").exists()
    assert (out / "02-someone-else.k8s.yaml").read_bytes() == b"theirs\n"
    assert (out / "helm" / "their-values.yaml").read_bytes() == b"theirs\n"
    # Once the other tool's file is gone too, the folder synth created is removed with its file.
    (out / "helm" / "their-values.yaml").unlink()
    write_files(out, FILES)
    write_files(out, {"01-a.k8s.yaml": b"a: 2\n"})
    assert not (out / "helm").exists()


@pytest.mark.parametrize("line", ["../outside.k8s.yaml", "{outside}", "./01-a.k8s.yaml"])
def test_a_record_never_leads_out_of_the_folder(tmp_path: Path, line: str) -> None:
    """A line that is not a plain relative name is an edited record: an error naming the line,
    and nothing in or outside the folder changes."""
    out, outside = tmp_path / "out", tmp_path / "outside.k8s.yaml"
    outside.write_bytes(b"keep\n")
    write_files(out, FILES)
    record = out / RECORD
    header = record.read_text().splitlines()[0]
    record.write_text(f"{header}\n{line.format(outside=outside)}\n01-a.k8s.yaml\n")
    before = snapshot(out)
    with pytest.raises(ConfigurationError, match="line 2") as caught:
        write_files(out, {"helm/values.yaml": b"v: 2\n"})
    assert "never writes" in caught.value.rule
    assert outside.read_bytes() == b"keep\n" and snapshot(out) == before


def test_a_record_naming_files_synth_never_writes_deletes_nothing(tmp_path: Path) -> None:
    """One pull request adds README.md to the record of a GitOps folder: the next synth must
    not delete it, and check must not call it ours."""
    out = tmp_path / "out"
    synth(load_config(CONFIG), out)
    (out / "README.md").write_text("the team's notes\n")
    (out / ".git").mkdir()
    (out / ".git" / "config").write_text("[core]\n")
    record = out / RECORD
    for planted in ("README.md", ".git/config"):
        original = record.read_text()
        record.write_text(original + f"{planted}\n")
        before = snapshot(out)
        with pytest.raises(ConfigurationError, match=re.escape(planted)):
            synth(load_config(CONFIG), out)
        assert snapshot(out) == before
        with pytest.raises(ConfigurationError, match="never writes"):
            compare(load_config(CONFIG), out)
        record.write_text(original)
    synth(load_config(CONFIG), out)
    assert (out / "README.md").exists() and (out / ".git" / "config").exists()


def test_without_a_record_only_files_of_synths_names_are_ours(tmp_path: Path) -> None:
    """Releases before the record are recognised by name and content; a team's own file with
    the library's label (a ResourceQuota named quota.k8s.yaml) is not deleted."""
    out = tmp_path / "out"
    synth(load_config(CONFIG), out)
    (out / RECORD).unlink()
    theirs = out / "quota.k8s.yaml"
    theirs.write_text(
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: gpu\n  labels:\n"
        "    app.kubernetes.io/managed-by: eks-gpu-sharing\n"
    )
    result = synth(load_config(CONFIG), out)
    assert theirs.exists()
    assert not any("resourcequota" in command for command in result.leftovers)


def test_files_get_the_umask_mode(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_files(tmp_path / "out", FILES)
        (tmp_path / "out" / "01-a.k8s.yaml").chmod(0o600)
        write_files(tmp_path / "out", {**FILES, "01-a.k8s.yaml": b"a: 2\n"})
    finally:
        os.umask(previous)
    for name in (*FILES, RECORD):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o644, name


@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_out_is_refused(out: str) -> None:
    with pytest.raises(ConfigurationError, match="is empty"):
        write_files(out, FILES)


def test_delete_commands_are_quoted_and_printable(tmp_path: Path) -> None:
    """The commands come from the old files' content, which anyone may have edited."""
    out = tmp_path / "out"
    synth(load_config(CONFIG), out)
    hostile = out / "50-device-plugin-config.k8s.yaml"
    hostile.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        '  name: "x; rm -rf ~ $(id)\\e[2J\\r"\n  namespace: "n`id`"\n'
    )
    result = synth(load_config(CONFIG), out)
    [command] = [c for c in result.leftovers if "configmap" in c]
    assert command == "kubectl delete 'configmap/x; rm -rf ~ $(id)[2J' -n 'n`id`'"


@pytest.mark.parametrize("failing_call", [1, 2, 3])
def test_a_failure_while_writing_leaves_the_folder_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    """A full disk or a read-only subfolder at any staged file changes nothing."""
    out = tmp_path / "out"
    write_files(out, FILES)
    (out / "kustomization.yaml").write_bytes(b"resources: []\n")
    before = snapshot(out)
    denied = PermissionError(13, "Permission denied")
    _fail_call(monkeypatch, output_folder, "_open_folder", failing_call, denied)
    new_files = {"01-a.k8s.yaml": b"a: 2\n", "sub/new.yaml": b"n\n", "helm/values.yaml": b"v\n"}
    with pytest.raises(ConfigurationError) as info:
        write_files(out, new_files)
    assert info.value.field == "--out" and "cannot be written" in info.value.rule
    assert snapshot(out) == before  # no temporary file, no new folder ("sub") left behind


@pytest.mark.skipif(
    UNPRIVILEGED is None,
    reason="running as root without setpriv (util-linux) to drop the capabilities that let "
    "root write into read-only folders",
)
def test_a_read_only_subfolder_is_an_error_before_anything_changes(tmp_path: Path) -> None:
    """The console command, run without the power to ignore file modes, on a folder whose
    ``helm/`` is read-only: exit 2 naming the folder, and nothing changed."""
    assert UNPRIVILEGED is not None
    out = tmp_path / "out"
    synth = [sys.executable, "-m", "eks_gpu_sharing.cli", "synth", "--config", str(CONFIG)]
    subprocess.run([*synth, "--out", str(out)], check=True, capture_output=True, timeout=300)
    assert (out / "helm").is_dir()
    before = snapshot(out)
    (out / "helm").chmod(0o500)
    try:
        done = subprocess.run(
            [*UNPRIVILEGED, *synth, "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        (out / "helm").chmod(0o700)
    assert done.returncode == 2, done.stderr
    # The value is cut in the middle when long: its end names the folder.
    assert "/out/helm': cannot be written (Permission denied)" in done.stderr, done.stderr
    assert snapshot(out) == before


def test_a_file_where_a_folder_goes_is_an_error_before_anything_changes(tmp_path: Path) -> None:
    """`helm` is a file where synth writes a folder."""
    out = tmp_path / "out"
    write_files(out, {"01-a.k8s.yaml": b"a: 1\n"})
    (out / "helm").write_bytes(b"not a folder\n")
    before = snapshot(out)
    with pytest.raises(ConfigurationError) as info:
        write_files(out, FILES)
    assert info.value.value == str(out / "helm") and "is a file" in info.value.rule
    assert snapshot(out) == before


@pytest.mark.parametrize("link", ["helm", "helm/values.yaml", RECORD])
def test_links_inside_the_folder_are_never_followed(tmp_path: Path, link: str) -> None:
    """out/helm -> ../elsewhere must not make synth write or delete in elsewhere/."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    write_files(out, FILES)
    elsewhere.mkdir()
    (elsewhere / "values.yaml").write_bytes(b"someone else's\n")
    target = out / link
    if target.is_dir():
        for child in target.iterdir():
            child.unlink()
        target.rmdir()
    else:
        target.unlink()
    target.symlink_to(elsewhere if link == "helm" else elsewhere / "values.yaml")
    before_out, before_elsewhere = snapshot(out), snapshot(elsewhere)
    if link == RECORD:
        # A linked record is not read (so nothing it lists is deleted), and is not written.
        with pytest.raises(ConfigurationError, match="is a link"):
            write_files(out, {"01-a.k8s.yaml": b"a: 2\n"})
    else:
        with pytest.raises(ConfigurationError, match="is a link") as info:
            write_files(out, {"01-a.k8s.yaml": b"a: 2\n", "helm/values.yaml": b"v: 2\n"})
        assert info.value.field == "--out"
        # Deleting through the link is refused just the same.
        with pytest.raises(ConfigurationError, match="is a link"):
            write_files(out, {"01-a.k8s.yaml": b"a: 2\n"})
    assert snapshot(elsewhere) == before_elsewhere
    assert snapshot(out) == before_out


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (lambda out: out.write_text("x"), "is a file, not a folder"),
        (lambda out: out.symlink_to(out.parent / "nowhere"), "is a link to nothing"),
        (lambda out: (out.parent / "file").write_text("x"), "cannot be created"),
    ],
    ids=["file", "dangling-link", "under-a-file"],
)
def test_bad_out_folders_are_errors(tmp_path: Path, make: object, rule: str) -> None:
    out = tmp_path / "out"
    make(out)  # type: ignore[operator]
    target = tmp_path / "file" / "out" if rule == "cannot be created" else out
    with pytest.raises(ConfigurationError, match=rule) as info:
        write_files(target, FILES)
    assert info.value.field == "--out"


def test_compare_names_changed_missing_and_extra_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_files(out, {**FILES, "03-gone.k8s.yaml": b"g\n"})
    assert not compare_files(out, {**FILES, "03-gone.k8s.yaml": b"g\n"})
    (out / "01-a.k8s.yaml").write_bytes(b"edited\n")
    (out / "unrelated.yaml").write_bytes(b"not ours\n")
    differences = compare_files(out, {**FILES, "04-new.k8s.yaml": b"n\n"})
    assert differences.changed == ("01-a.k8s.yaml",)
    assert differences.missing == ("04-new.k8s.yaml",)
    assert differences.extra == ("03-gone.k8s.yaml",)
    assert differences.describe() == (
        "changed: 01-a.k8s.yaml; missing: 04-new.k8s.yaml; extra: 03-gone.k8s.yaml"
    )


def test_check_of_a_missing_folder_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Path(__file__).resolve().parents[1] / "gpu-sharing.yaml"
    assert main(["check", "--config", str(config), "--out", str(tmp_path / "none")]) == 2
    assert "--out=" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


# -- all or nothing: the journal, signals, kills, two writers --------------------------------

OLD = {"01-a.k8s.yaml": b"a: 1\n", "02-b.k8s.yaml": b"b: 1\n", "helm/values.yaml": b"v: 1\n"}
NEW = {"01-a.k8s.yaml": b"a: 2\n", "03-c.k8s.yaml": b"c: 2\n", "monitoring/d.json": b"{}\n"}

#: Runs in a child: write NEW over OLD with the Nth call of `os.replace` (or of the staging
#: descriptor) replaced by a signal to itself.
_CHILD = """
import os, signal, sys
from eks_gpu_sharing import output_folder
out, where, nth, sig = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# Ctrl-C as in a terminal: a suite started as a background job (`make test &`, nohup) hands its
# children SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
new = {"01-a.k8s.yaml": b"a: 2\\n", "03-c.k8s.yaml": b"c: 2\\n", "monitoring/d.json": b"{}\\n"}
calls = 0
def dying(real):
    def call(*args, **kwargs):
        global calls
        calls += 1
        if calls == nth:
            os.kill(os.getpid(), sig)
        return real(*args, **kwargs)
    return call
if where == "replace":
    os.replace = dying(os.replace)
else:
    output_folder._open_folder = dying(output_folder._open_folder)
output_folder.write_files(out, new)
"""


def _interrupted_write(out: Path, where: str, nth: int, sig: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(out), where, str(nth), str(sig)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return done.returncode


@pytest.mark.parametrize("nth", range(1, 7))
@pytest.mark.parametrize("where", ["stage", "replace"])
def test_a_killed_synth_leaves_the_old_state_or_the_new(
    tmp_path: Path, where: str, nth: int
) -> None:
    """SIGKILL at each staged file and each rename (the journal's own included): the next
    check restores the old state, the next synth writes the new; no temporary file survives."""
    out = tmp_path / "out"
    write_files(out, OLD)
    (out / "kustomization.yaml").write_bytes(b"resources: []\n")
    old = snapshot(out)
    killed = _interrupted_write(out, where, nth, signal.SIGKILL) == -signal.SIGKILL
    compare_files(out, NEW)  # finds the journal (if any) and restores before comparing
    # Killed before the journal's commit point: the old state; else it finished: the new.
    assert snapshot(out) == old if killed else not compare_files(out, NEW)
    write_files(out, NEW)
    after = snapshot(out)
    assert {k: v for k, v in after.items() if not k.startswith(".")} == {
        "kustomization.yaml": b"resources: []\n",
        "01-a.k8s.yaml": b"a: 2\n",
        "03-c.k8s.yaml": b"c: 2\n",
        "monitoring": "<dir>",
        "monitoring/d.json": b"{}\n",
    }
    assert set(after) - {RECORD} == {k for k in after if not k.startswith(".")}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_terminated_synth_restores_the_old_files_at_once(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "out"
    write_files(out, OLD)
    old = snapshot(out)
    assert _interrupted_write(out, "replace", 3, sig) != 0
    assert snapshot(out) == old and not (out / JOURNAL).exists()


def test_a_failed_rename_restores_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An EBUSY target halfway through: the NodePool and the ConfigMap never disagree."""
    out = tmp_path / "out"
    write_files(out, OLD)
    old = snapshot(out)
    _fail_call(monkeypatch, os, "replace", 3, OSError(16, "Device or resource busy"))
    with pytest.raises(OSError, match="busy"):
        write_files(out, NEW)
    assert snapshot(out) == old


_WRITER = """
import sys
from eks_gpu_sharing import output_folder
out, tag = sys.argv[1], sys.argv[2]
for i in range(15):
    files = {f"0{n}-{tag}.k8s.yaml": f"{tag} {i}\\n".encode() for n in range(1, 4)}
    files["helm/values.yaml"] = f"{tag} {i}\\n".encode()
    output_folder.write_files(out, files)
"""


def test_two_synths_into_one_folder_take_turns(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(out), tag]) for tag in ("x", "y")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    record = (out / RECORD).read_text().splitlines()[1:]
    present = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != RECORD
    )
    assert present == record  # the record and the files are one writer's, never a mix
    assert len({(out / name).read_text() for name in record}) == 1


def test_a_folder_swapped_for_a_link_during_the_write_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the checks and the write, helm/ becomes a link to a folder outside: the file is
    created through descriptors that do not follow links, so the write fails, outside stays."""
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    write_files(out, FILES)
    elsewhere.mkdir()
    real_stage = output_folder._stage

    def racing_stage(folder: Path, name: str, content: bytes) -> str:
        if name.startswith("helm/") and not (out / "helm").is_symlink():
            shutil.rmtree(out / "helm")
            (out / "helm").symlink_to(elsewhere)
        return real_stage(folder, name, content)

    monkeypatch.setattr(output_folder, "_stage", racing_stage)
    with pytest.raises(ConfigurationError, match="cannot be written"):
        write_files(out, {"01-a.k8s.yaml": b"a: 2\n", "helm/values.yaml": b"v: 2\n"})
    assert list(elsewhere.iterdir()) == []
    assert (out / "01-a.k8s.yaml").read_bytes() == b"a: 1\n"


def test_check_does_not_read_a_huge_file_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_files(out, FILES)
    with open(out / "01-a.k8s.yaml", "wb") as handle:
        handle.truncate(3 * 1024**3)  # sparse: 3 GiB on paper, nothing on disk
    assert compare_files(out, FILES).changed == ("01-a.k8s.yaml",)


def test_a_failure_while_keeping_the_old_files_deletes_none_of_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second old file cannot be kept (a link refused): the first is not lost either."""
    out = tmp_path / "out"
    write_files(out, OLD)
    old = snapshot(out)
    _fail_call(monkeypatch, os, "link", 2, OSError(31, "Too many links"))
    with pytest.raises(OSError, match="Too many links"):
        write_files(out, {**OLD, "01-a.k8s.yaml": b"a: 2\n"})
    assert snapshot(out) == old
