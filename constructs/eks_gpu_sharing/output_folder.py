"""Write a set of generated files into a folder the user owns, safely.

The folder may be part of a GitOps repository full of other tools' files, so:

* Nothing is changed until everything is rendered, every target checked and every new file
  written beside its target: a failure (permissions, a file where a folder should be, a full
  disk) leaves the folder byte-identical. Files are then swapped in with ``os.replace``, one
  atomic rename each, under a journal (:data:`JOURNAL`): the old files are kept (hard links)
  until every new one is in place, an error, Ctrl-C or SIGTERM restores them at once, and
  after a kill the next ``synth`` or ``check`` finds the journal and restores the old state
  before anything else, removing every temporary file of ours. The folder is locked
  (``flock`` on its descriptor) for the whole write, so two synths into one folder run one
  after the other, and ``check`` never reads a half-swapped folder.
* No link is followed: a symbolic link anywhere between the folder and a target is refused, so
  nothing outside the folder is ever created, changed or deleted.
* Only files this library wrote are deleted. :data:`RECORD` lists them; a file of the same
  pattern that it did not write (another tool's ``*.k8s.yaml``) is never touched. The record is
  not trusted as written: a line naming a file the writer never writes (``owns``), such as
  ``README.md`` added in a pull request, is an error naming the line, and nothing changes.
* Files get the mode the process's umask gives new files (0644 under the usual 022), not
  ``mkstemp``'s 0600, so a GitOps or CI reader running as another user can read them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

from .errors import ConfigurationError

#: The record of what the last write put in the folder: one file name per line. No ``.json``
#: or ``.yaml`` suffix: ``kubectl apply -f <folder>/`` (k8s.io/cli-runtime
#: ``ExpandPathsToFileVisitors``) and Argo CD's directory sources read every file with one.
RECORD: Final = ".eks-gpu-sharing-files"
#: The journal of a swap in progress; removed once every new file is in place.
JOURNAL: Final = ".eks-gpu-sharing-journal"
#: Prefix of every temporary file and kept old file (removed by the swap or the recovery).
_TEMPORARY_PREFIX: Final = ".eks-gpu-sharing-tmp."
#: A record is a few hundred bytes; a larger file in its place is not one.
_MAX_RECORD_BYTES: Final = 1024 * 1024
#: Mode of new files before the umask (what ``open(..., "w")`` uses).
_NEW_FILE_MODE: Final = 0o666
_RECORD_HEADER: Final = (
    "# Written by eks-gpu-sharing synth, which replaces or deletes only these files."
)


@dataclass(frozen=True)
class FolderDifferences:
    """How a folder differs from what would be written into it."""

    changed: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.changed or self.missing or self.extra)

    def describe(self) -> str:
        """``changed: a; missing: b; extra: c`` (the non-empty parts)."""
        parts = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("changed", self.changed),
                ("missing", self.missing),
                ("extra", self.extra),
            )
            if names
        ]
        return "; ".join(parts)


#: Names of files a folder without a record holds that were nevertheless written by this tool
#: (by a release that kept no record), given the folder.
Unrecorded = Callable[[Path], Iterable[str]]
#: Whether a relative file name is one the writer could write (for some config).
Owns = Callable[[str], bool]


def write_files(
    outdir: str | Path,
    files: Mapping[str, bytes],
    *,
    unrecorded: Unrecorded = lambda _: (),
    owns: Owns = lambda _: True,
) -> list[Path]:
    """Make ``outdir`` hold exactly ``files`` (relative POSIX paths -> content) of this tool's.

    Files the previous write recorded (or, without a record, ``unrecorded`` names) that
    ``files`` lacks are deleted; every other file in the folder is left alone. Raises
    ConfigurationError (field ``--out``) before changing anything when the folder cannot take
    the files.
    """
    folder = _folder(_out_path(outdir), create=True)
    with _locked(folder, exclusive=True):
        _recover(folder)
        previous = _previous_files(folder, unrecorded, owns)
        targets = {name: _target(folder, name) for name in files}
        stale = [
            name for name in sorted(set(previous) - set(files)) if _target(folder, name).is_file()
        ]
        record = "".join(f"{line}\n" for line in (_RECORD_HEADER, *sorted(files)))
        contents = {**files, RECORD: record.encode()}
        _target(folder, RECORD)
        # The folders to create are named in the journal before the first is made, so a kill
        # while staging leaves nothing the recovery does not remove.
        created = sorted(
            {
                str(p.relative_to(folder))
                for t in targets.values()
                for p in t.parents
                if p.is_relative_to(folder) and p != folder and not p.exists()
            },
            key=lambda name: name.count("/"),
        )
        _write_journal(folder, {"created": created, "staged": {}, "stale": [], "kept": {}})
        staged: dict[str, str] = {}
        try:
            for name, content in contents.items():
                staged[name] = _stage(folder, name, content)
        except BaseException:
            _restore(folder, staged, [], {}, created, replaced=False)
            raise
        with _signals_raise():
            _swap(folder, staged, stale, created)
        return sorted(targets.values())


def compare_files(
    outdir: str | Path,
    files: Mapping[str, bytes],
    *,
    unrecorded: Unrecorded = lambda _: (),
    owns: Owns = lambda _: True,
) -> FolderDifferences:
    """How ``outdir`` differs from ``files``: changed, missing, and files of ours not expected
    (those ``write_files`` would delete).

    A folder that does not exist is an error (there is nothing to compare), not a difference.
    """
    folder = _folder(_out_path(outdir), create=False)
    with _locked(folder, exclusive=True):
        _recover(folder)  # a killed synth's folder is compared as it was before it
        return _compare(folder, files, unrecorded, owns)


def _compare(
    folder: Path, files: Mapping[str, bytes], unrecorded: Unrecorded, owns: Owns
) -> FolderDifferences:
    changed, missing = [], []
    for name, content in sorted(files.items()):
        path = _target(folder, name)
        if not path.is_file():
            missing.append(name)
        elif path.stat().st_size != len(content) or path.read_bytes() != content:
            # The size first: a 3 GB file in its place is "changed", not read into memory.
            changed.append(name)
    extra = [
        name
        for name in sorted(set(_previous_files(folder, unrecorded, owns)) - set(files))
        if _target(folder, name).is_file()
    ]
    return FolderDifferences(tuple(changed), tuple(missing), tuple(extra))


def recorded_files(folder: str | Path, owns: Owns = lambda _: True) -> set[str]:
    """The files the folder's record lists (empty without a record)."""
    return _read_record(Path(folder), owns) or set()


def _previous_files(folder: Path, unrecorded: Unrecorded, owns: Owns) -> set[str]:
    record = _read_record(folder, owns)
    if record is not None:
        return record
    return {name for name in unrecorded(folder) if _safe_name(name) and owns(name)}


def _out_path(outdir: str | Path) -> Path:
    """``outdir`` as a path; an empty one (``--out ''``, an empty ``CDK8S_OUTDIR``) would be
    the current folder, with the deletion rules applied there, so it is refused."""
    if isinstance(outdir, str) and not outdir.strip():
        raise ConfigurationError(
            field="--out",
            value=outdir,
            rule="is empty (an empty CDK8S_OUTDIR counts): it would write into the current folder",
            fix="pass the output folder, e.g. --out manifests",
        )
    return Path(outdir)


def _folder(outdir: Path, *, create: bool) -> Path:
    if outdir.is_symlink() and not outdir.exists():
        raise _error(outdir, "is a link to nothing", "point --out at a folder")
    if outdir.exists() and not outdir.is_dir():
        raise _error(outdir, "is a file, not a folder", "point --out at a folder")
    if not outdir.exists():
        if not create:
            raise _error(outdir, "does not exist", "run synth first, or pass the right --out")
        try:
            outdir.mkdir(parents=True)
        except FileExistsError:
            # Another synth into the same folder created it between the check and mkdir: fine
            # if it is a folder (the two then take turns on its lock).
            if not outdir.is_dir():
                raise _error(
                    outdir, "appeared meanwhile, and not as a folder", "point --out at a folder"
                ) from None
        except OSError as error:
            raise _error(
                outdir, f"cannot be created ({error.strerror})", "pass a folder you can write to"
            ) from None
    return outdir.resolve()


def _target(folder: Path, name: str) -> Path:
    """``folder/name``, refusing anything that would lead out of the folder."""
    if not _safe_name(name):
        raise ValueError(f"not a relative file name: {name!r}")  # our own names: a bug
    parts = PurePosixPath(name).parts
    path = folder
    for index, part in enumerate(parts, start=1):
        path = path / part
        if path.is_symlink():
            raise _error(
                path,
                "is a link; links inside --out are not followed (the write could "
                "land outside the folder)",
                "replace the link with a real folder or file",
            )
        if index < len(parts) and path.exists() and not path.is_dir():
            raise _error(
                path, "is a file, not a folder", "move it away; synth writes a folder there"
            )
    if path.exists() and not path.is_file():
        raise _error(path, "is not a file", "move it away; synth writes a file there")
    return path


def _stage(folder: Path, name: str, content: bytes) -> str:
    """Write ``content`` to a new hidden file beside ``folder/name``; return its name relative
    to ``folder``, creating the folders it needs (the journal names them). The file is created
    through a descriptor of its folder opened without following links, so a folder swapped for
    a link meanwhile is refused, never followed."""
    target = folder / name
    try:
        for parent in reversed(target.parents):
            if not parent.exists():
                parent.mkdir()
        directory = _open_folder(folder, PurePosixPath(name).parent.parts)
        try:
            temporary = f"{_TEMPORARY_PREFIX}{target.name}.{os.urandom(6).hex()}"
            descriptor = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                _NEW_FILE_MODE & ~_umask(),
                dir_fd=directory,
            )
        finally:
            os.close(directory)
    except OSError as error:
        raise _error(
            target.parent, f"cannot be written ({error.strerror})", "pass a folder you can write to"
        ) from None
    relative = str(PurePosixPath(name).parent / temporary)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
    except OSError as error:
        os.unlink(folder / relative)
        raise _error(
            target, f"cannot be written ({error.strerror})", "free space or fix the permissions"
        ) from None
    return relative


def _open_folder(folder: Path, parts: tuple[str, ...]) -> int:
    """A descriptor of ``folder/parts...``, each step opened without following a link."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    for part in parts:
        try:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=descriptor)
        finally:
            os.close(descriptor)
        descriptor = child
    return descriptor


# -- the swap, its journal and the recovery ----------------------------------------------------


def _swap(folder: Path, staged: Mapping[str, str], stale: list[str], created: list[str]) -> None:
    """Put every staged file in place and delete the stale ones, all or nothing.

    The old files are kept as hard links (no copy) and the journal names them; it is written
    before the first rename and removed after the last, so an interruption anywhere between
    leaves what :func:`_recover` needs to restore the old state."""
    kept: dict[str, str] = {}
    renaming = False
    try:
        for name in [*staged, *stale]:
            path = folder / name
            if path.is_file() and not path.is_symlink():
                keep = str(PurePosixPath(name).parent / f"{_TEMPORARY_PREFIX}{path.name}.old")
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder / keep)
                os.link(path, folder / keep, follow_symlinks=False)
                kept[name] = keep
        _write_journal(
            folder, {"created": created, "staged": dict(staged), "stale": stale, "kept": kept}
        )
        # From here every old file has its kept link: undoing may remove targets with none.
        renaming = True
        for name, temporary in staged.items():
            _check_inside(folder, name)
            os.replace(folder / temporary, folder / name)
        for name in stale:
            _check_inside(folder, name)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / name)
    except BaseException:
        _restore(folder, dict(staged), stale, kept, created, replaced=renaming)
        raise
    os.unlink(folder / JOURNAL)  # the commit point: from here the new state stands
    for keep in kept.values():
        with contextlib.suppress(OSError):
            os.unlink(folder / keep)
    for name in stale:
        _remove_empty_parents(folder, folder / name)


def _restore(
    folder: Path,
    staged: Mapping[str, str],
    stale: list[str],
    kept: Mapping[str, str],
    created: list[str],
    *,
    replaced: bool = True,
) -> None:
    """Undo a write: the kept old files back in place, new files of no old one removed (once
    renames may have happened: ``replaced``), every temporary deleted, the folders the write
    made removed when empty, the journal last."""
    for name in [*staged, *stale] if replaced else []:
        with contextlib.suppress(OSError):
            if name in kept and (folder / kept[name]).is_file():
                os.replace(folder / kept[name], folder / name)
                # A rename onto another link of the same file does nothing (POSIX rename):
                # the target was never replaced, and the kept link is still there.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder / kept[name])
            elif name in staged and name not in kept:
                os.unlink(folder / name)
    for temporary in [*staged.values(), *([] if replaced else kept.values())]:
        with contextlib.suppress(OSError):
            os.unlink(folder / temporary)
    _remove_empty_folders(folder, created)
    with contextlib.suppress(OSError):
        os.unlink(folder / JOURNAL)


def _recover(folder: Path) -> None:
    """Finish what a killed write left: restore the old state from the journal, then remove
    every temporary file of ours."""
    journal = folder / JOURNAL
    created: list[str] = []
    if journal.is_file() and not journal.is_symlink():
        try:
            entries = json.loads(journal.read_text())
            staged = _to_temporaries(entries["staged"])
            stale = [str(n) for n in entries["stale"] if _safe_name(n)]
            kept = _to_temporaries(entries["kept"])
            created = [str(n) for n in entries["created"] if _safe_name(n)]
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            raise _error(
                journal,
                "is the journal of an interrupted synth, and it cannot be read",
                "restore the folder from version control, then delete the journal",
            ) from None
        for name in [*staged, *stale, *created]:
            _check_inside(folder, name)
        # Staged files are in the journal only once every old file has its kept link, just
        # before the first rename: then targets may have been replaced. A journal without
        # them is the one written before staging, and no target was touched.
        _restore(folder, staged, stale, kept, created, replaced=bool(staged))
    subfolders = [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]
    for directory in (folder, *subfolders):
        for path in directory.iterdir():
            if path.name.startswith(_TEMPORARY_PREFIX) and not path.is_dir():
                with contextlib.suppress(OSError):
                    path.unlink()
    # Folders a write made while staging are empty once its temporaries are gone.
    _remove_empty_folders(folder, created)


def _remove_empty_folders(folder: Path, created: list[str]) -> None:
    """The folders a write made (names relative to ``folder``), deepest first, if empty."""
    for name in sorted(created, key=lambda name: name.count("/"), reverse=True):
        with contextlib.suppress(OSError):
            (folder / name).rmdir()


def _to_temporaries(entries: Mapping[object, object]) -> dict[str, str]:
    """A journal's ``name -> temporary`` entries whose both sides are names inside the folder
    and whose temporary is one of ours (anything else in an edited journal is ignored)."""
    return {
        str(name): str(temporary)
        for name, temporary in entries.items()
        if _safe_name(name)
        and _safe_name(temporary)
        and PurePosixPath(str(temporary)).name.startswith(_TEMPORARY_PREFIX)
    }


def _write_journal(folder: Path, entries: Mapping[str, object]) -> None:
    staged = folder / f"{_TEMPORARY_PREFIX}journal"
    with open(staged, "w", encoding="utf-8") as handle:
        json.dump(entries, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staged, folder / JOURNAL)


def _check_inside(folder: Path, name: str) -> None:
    """No component between ``folder`` and ``name`` became a link since the checks."""
    path = folder
    for part in PurePosixPath(name).parts:
        path = path / part
        if path.is_symlink():
            raise _error(path, "became a link during the write; not followed", "run synth again")


def _remove_empty_parents(folder: Path, path: Path) -> None:
    """A subfolder a stale file leaves empty goes too (never the output folder itself)."""
    for parent in path.parents:
        if parent == folder or not parent.is_relative_to(folder):
            break
        try:
            parent.rmdir()
        except OSError:  # not empty: someone else's files are in it
            break


@contextlib.contextmanager
def _locked(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold ``flock`` on the folder's own descriptor (no lock file left behind)."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with contextlib.suppress(ImportError):
            import fcntl

            fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


class _Terminated(BaseException):
    """SIGTERM or SIGHUP during the swap, raised so that the old files are restored."""


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception while the swap runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(number: int, _frame: object) -> None:
        raise _Terminated(f"signal {number}")

    previous = {sig: signal.signal(sig, terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _read_record(folder: Path, owns: Owns) -> set[str] | None:
    """The files the record lists, or None when there is no record or it is not ours.

    Raises ConfigurationError for a line that names no file the writer writes."""
    path = folder / RECORD
    if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_RECORD_BYTES:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return None
    if not lines or lines[0] != _RECORD_HEADER:
        return None
    for number, name in enumerate(lines[1:], start=2):
        if not (_safe_name(name) and owns(name)):
            raise ConfigurationError(
                field="--out",
                value=f"{RECORD} line {number}: {name}",
                rule="names a file synth never writes; synth deletes only files it wrote, so "
                "the record was edited",
                fix=f"remove that line from {path} (and check who added it)",
            )
    return set(lines[1:])


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``os.umask`` sets
    it to read it, which another thread could observe)."""
    with contextlib.suppress(OSError):
        status = Path("/proc/self/status").read_text()
        if match := re.search(r"^Umask:\s*([0-7]+)$", status, re.MULTILINE):
            return int(match.group(1), 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _safe_name(name: object) -> bool:
    """A relative POSIX path in canonical form, inside the folder: no '..', '.', '//' or '/x'."""
    if not isinstance(name, str) or not name or "\\" in name:
        return False
    path = PurePosixPath(name)
    return str(path) == name and not path.is_absolute() and ".." not in path.parts


def _error(path: Path, rule: str, fix: str) -> ConfigurationError:
    return ConfigurationError(field="--out", value=str(path), rule=rule, fix=fix)
