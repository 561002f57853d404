"""Test-session settings shared by every module."""

from __future__ import annotations

from hypothesis import settings

# Examples that build cdk8s charts go through jsii; on a busy 2-core CI machine their timing
# varies too much for Hypothesis' default 200 ms deadline to mean anything.
settings.register_profile("project", deadline=None)
settings.load_profile("project")
