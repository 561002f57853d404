"""The ``eks-gpu-sharing`` console command's entry point.

The command module imports cdk8s and jsii (a second or two): a Ctrl-C then, before
:func:`eks_gpu_sharing.cli.main` runs, would print a traceback and exit 1, the status ``check``
uses for "stale". Importing it here, inside the handler, makes it exit 130 like any Ctrl-C.
"""

from __future__ import annotations

import sys


def run() -> None:
    """Import the command and run it; exit with its status (130 on Ctrl-C at any point)."""
    try:
        from .cli import main

        status = main()
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)
