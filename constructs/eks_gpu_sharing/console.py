"""The ``eks-gpu-sharing`` console command's entry point.

The command module imports cdk8s and jsii (a second or two): a Ctrl-C then, before
:func:`eks_gpu_sharing.cli.main` runs, would print a traceback and exit 1, the status ``check``
uses for "stale". Importing it here, inside the handler, makes it exit 130 like any Ctrl-C.

jsii starts ``node`` from ``PATH``. Run as ``.venv/bin/eks-gpu-sharing`` without activating the
virtualenv, that is the system's Node (often 20, end-of-life: jsii prints a banner), not the
Node 24 the ``[node]`` extra put beside this Python; the command puts its own first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def prefer_own_node() -> None:
    """Put the folder of this Python's ``node`` (the ``[node]`` extra's) first on ``PATH``, so
    jsii and the CLIs it starts use it; a ``JSII_NODE`` the user set still wins."""
    own = Path(sys.executable).parent
    if (own / "node").is_file() and "JSII_NODE" not in os.environ:
        os.environ["PATH"] = os.pathsep.join([str(own), os.environ.get("PATH", "")])


def run() -> None:
    """Import the command and run it; exit with its status (130 on Ctrl-C at any point)."""
    prefer_own_node()
    try:
        from .cli import main

        status = main()
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)
