"""Write a set of generated files into a folder the user owns, safely.

The folder may be part of a GitOps repository full of other tools' files, so:

* Nothing is changed until everything is rendered, every target checked and every new file
  written beside its target: a failure (permissions, a file where a folder should be, a full
  disk) leaves the folder byte-identical. Files are then swapped in with ``os.replace``, one
  atomic rename each.
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
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final

from .errors import ConfigurationError

#: The record of what the last write put in the folder: one file name per line. No ``.json``
#: or ``.yaml`` suffix: ``kubectl apply -f <folder>/`` (k8s.io/cli-runtime
#: ``ExpandPathsToFileVisitors``) and Argo CD's directory sources read every file with one.
RECORD: Final = ".eks-gpu-sharing-files"
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
    previous = _previous_files(folder, unrecorded, owns)
    targets = {name: _target(folder, name) for name in files}
    stale = [
        path
        for name in sorted(set(previous) - set(files))
        if (path := _target(folder, name)).is_file()
    ]
    record = "".join(f"{line}\n" for line in (_RECORD_HEADER, *sorted(files)))
    contents = {
        **{targets[name]: content for name, content in files.items()},
        _target(folder, RECORD): record.encode(),
    }
    staged: dict[Path, str] = {}
    created: list[Path] = []
    try:
        for target, content in contents.items():
            staged[target] = _stage(target, content, created)
    except BaseException:
        for temporary in staged.values():
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        for directory in reversed(created):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    for target, temporary in staged.items():
        os.replace(temporary, target)
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # A subfolder the stale file leaves empty goes too (never the output folder itself).
        for parent in path.parents:
            if parent == folder or not parent.is_relative_to(folder):
                break
            try:
                parent.rmdir()
            except OSError:  # not empty: someone else's files are in it
                break
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


def _stage(target: Path, content: bytes, created: list[Path]) -> str:
    """Write ``content`` to a new hidden file beside ``target``; return its path. Folders it
    has to create are appended to ``created`` (to be removed if the write is abandoned)."""
    try:
        missing = [parent for parent in reversed(target.parents) if not parent.exists()]
        for parent in missing:
            parent.mkdir()
            created.append(parent)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        os.fchmod(descriptor, _NEW_FILE_MODE & ~_umask())
    except OSError as error:
        raise _error(
            target.parent, f"cannot be written ({error.strerror})", "pass a folder you can write to"
        ) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
    except OSError as error:
        os.unlink(temporary)
        raise _error(
            target, f"cannot be written ({error.strerror})", "free space or fix the permissions"
        ) from None
    return temporary


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
                field=f"--out {RECORD} line {number}",
                value=name,
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
