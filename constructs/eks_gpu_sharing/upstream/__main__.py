"""``python -m eks_gpu_sharing.upstream``: build the upstream checks now (CI, first use)."""

from __future__ import annotations

from .harness import main

main()
