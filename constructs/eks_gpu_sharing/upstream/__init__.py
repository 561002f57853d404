"""The consumers' own code, pinned, run in-process on what this library generates.

Karpenter (its scheduler, NodeOverlay and NodePool controllers, the AWS provider's instance types
and static prices), the API server's custom resource validation, Helm, and the NVIDIA device
plugin's config loader are Go. The Go module beside this file (``go.mod``/``go.sum`` pin and
checksum every version) wraps them in one small program that reads a JSON request on stdin and
answers JSON on stdout. :func:`upstream` builds it on first use with the ``go`` command and caches
the binary; only ``eks-gpu-sharing simulate`` and the test suite need it. Synthesizing never does.
"""

from __future__ import annotations

from .harness import (
    GO_MODULE_DIR,
    Upstream,
    UpstreamError,
    UpstreamUnavailable,
    upstream,
)

__all__ = ["GO_MODULE_DIR", "Upstream", "UpstreamError", "UpstreamUnavailable", "upstream"]
