"""Test-session settings shared by every module."""

from __future__ import annotations

from hypothesis import settings

# Examples that build cdk8s charts go through jsii; on a busy 2-core CI machine their timing
# varies too much for Hypothesis' default 200 ms deadline to mean anything.
settings.register_profile("project", deadline=None)
settings.load_profile("project")


import pytest  # noqa: E402

from eks_gpu_sharing.upstream import Upstream, UpstreamUnavailable, upstream  # noqa: E402


@pytest.fixture(scope="session")
def harness() -> Upstream:
    """The consumers' own code (Karpenter, API server validation, Helm, device plugin), built
    with Go on first use. The suite needs it: CI installs Go; a machine without Go fails here
    with the instructions rather than skipping the checks that matter most."""
    try:
        return upstream()
    except UpstreamUnavailable as error:
        pytest.fail(f"the upstream checks cannot be built: {error}")
