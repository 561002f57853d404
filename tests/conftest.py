"""Test-session settings shared by every module."""

from __future__ import annotations

from hypothesis import settings

# Examples that build cdk8s charts go through jsii; on a busy 2-core CI machine their timing
# varies too much for Hypothesis' default 200 ms deadline to mean anything.
settings.register_profile("project", deadline=None)
settings.load_profile("project")


import os  # noqa: E402

import pytest  # noqa: E402

from eks_gpu_sharing.upstream import Upstream, UpstreamUnavailable, upstream  # noqa: E402
from eks_gpu_sharing.upstream.harness import TEST_TOOLS_ENV  # noqa: E402

# One upstream program for the whole suite, with the commands only the tests call: also for the
# library's own `simulate`/`estimate` calls and the CLI processes the tests start.
os.environ[TEST_TOOLS_ENV] = "1"


@pytest.fixture(scope="session")
def harness() -> Upstream:
    """The consumers' own code (Karpenter, API server validation, Helm, device plugin), built
    with Go on first use. The suite needs it: CI installs Go; a machine without Go fails here
    with the instructions rather than skipping the checks that matter most."""
    try:
        return upstream(test_tools=True)
    except UpstreamUnavailable as error:
        pytest.fail(f"the upstream checks cannot be built: {error}")
