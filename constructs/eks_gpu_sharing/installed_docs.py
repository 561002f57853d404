"""Where this installation's guide is, so help text can point at a file that exists.

A checkout has ``docs/`` beside ``constructs/``; a wheel installs the same Markdown files as data
under ``<prefix>/share/eks-gpu-sharing/docs`` (``[tool.setuptools.data-files]`` in
pyproject.toml), since a pip user has no clone to open ``docs/...`` in.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Final

#: The wheel's data folder for the guide, relative to the environment's prefix.
DATA_DIR: Final = Path("share") / "eks-gpu-sharing" / "docs"
#: The guide's entry page (the decision page) and the config file's reference.
GUIDE: Final = "gpu-sharing-on-eks.md"
CONFIGURATION: Final = "configuration.md"


@functools.cache  # the help of every subcommand asks; the answer cannot change in a run
def docs_dir() -> Path | None:
    """The folder holding the guide's Markdown files: the checkout's ``docs/`` when this
    package runs from one, else the installed data folder; None when neither exists."""
    checkout = Path(__file__).resolve().parents[2] / "docs"
    for folder in (checkout, Path(sys.prefix) / DATA_DIR):
        if (folder / GUIDE).is_file():
            return folder
    return None


def doc(name: str) -> str:
    """The path to show for the guide's page ``name`` (``docs/<name>`` of the source repository
    when no copy is installed)."""
    folder = docs_dir()
    return str(folder / name) if folder else f"docs/{name} of the eks-gpu-sharing repository"
