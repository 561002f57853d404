"""A Stack whose availability zones are given, so that an env-specific stack synthesizes offline."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import aws_cdk as cdk
from constructs import Construct

from ..errors import ConfigurationError

# An availability zone name: the region and a letter (us-east-1a, us-gov-west-1b, ap-south-2c).
_ZONE_NAME: Final = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]", re.ASCII)


class ZonedStack(cdk.Stack):
    """A ``cdk.Stack`` that knows its region's availability zones without asking AWS.

    A stack with an explicit ``env`` (account and region) looks the region's zones up at synth
    time the first time anything asks for them (``ec2.Vpc`` does), which needs AWS credentials
    unless ``cdk.context.json`` already holds the answer. Overriding ``availability_zones`` is the
    way aws-cdk-lib documents for choosing zones differently; this class does it with a list.

    :param availability_zones: The region's zones to use, by name, at least two (EKS needs two);
        ``ec2.Vpc(max_azs=n)`` takes the first ``n``.
    :param kwargs: Everything ``cdk.Stack`` takes (``env`` included).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        availability_zones: Sequence[str],
        **kwargs: Any,
    ) -> None:
        zones = check_availability_zones(availability_zones, field="ZonedStack.availability_zones")
        env = kwargs.get("env")
        region = env.region if isinstance(env, cdk.Environment) else None
        if region and not cdk.Token.is_unresolved(region) and {z[:-1] for z in zones} != {region}:
            raise ConfigurationError(
                field="ZonedStack.availability_zones",
                value=zones,
                rule=f"the zones must be in the stack's region, {region}",
                fix=f'use zones of {region}, e.g. ["{region}a", "{region}b"]',
            )
        super().__init__(scope, id, **kwargs)
        self._zones = zones

    @property
    def availability_zones(self) -> list[str]:
        """The zones given to the constructor (no lookup)."""
        return list(self._zones)


def check_availability_zones(zones: object, *, field: str) -> list[str]:
    """The zone names as a list, or ConfigurationError naming ``field``."""
    if isinstance(zones, str) or not isinstance(zones, Sequence) or len(zones) < 2:
        raise ConfigurationError(
            field=field,
            value=zones,
            rule="EKS needs subnets in at least two availability zones, given as a list",
            fix='use e.g. ["us-east-1a", "us-east-1b"]',
        )
    for zone in zones:
        if not isinstance(zone, str) or not _ZONE_NAME.fullmatch(zone):
            raise ConfigurationError(
                field=field,
                value=zone,
                rule="an availability zone name is the region and a letter",
                fix='use e.g. "us-east-1a" (aws ec2 describe-availability-zones lists them)',
            )
    if len({zone[:-1] for zone in zones}) > 1 or len(set(zones)) != len(zones):
        raise ConfigurationError(
            field=field,
            value=zones,
            rule="the zones must be distinct and in one region",
            fix='use e.g. ["us-east-1a", "us-east-1b"]',
        )
    return list(zones)
