"""What a folder holds, to check that an operation changed nothing (or only what it should)."""

from __future__ import annotations

import os
from pathlib import Path


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file contents, link targets (``-> target``) and folders
    (``<dir>``). ``folder`` itself is followed when it links to a folder (``--out`` may be one);
    a file or any other link is recorded as ``"."``.
    """
    if folder.is_file() or (folder.is_symlink() and not folder.is_dir()):
        return {".": f"-> {os.readlink(folder)}" if folder.is_symlink() else folder.read_bytes()}
    entries: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")) if folder.exists() else []:
        name = str(path.relative_to(folder))
        if path.is_symlink():
            entries[name] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            entries[name] = "<dir>"
        else:
            entries[name] = path.read_bytes()
    return entries
