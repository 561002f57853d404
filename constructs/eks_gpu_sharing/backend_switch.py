"""The same setup with its pools moved to another sharing backend, for ``simulate --backend``."""

from __future__ import annotations

import dataclasses

from .dra import consumable_shares
from .errors import ConfigurationError
from .karpenter_installation import ExistingKarpenter
from .pool import GpuPool
from .pool_options import Backend
from .setup import GpuSharingSetup
from .versions import KARPENTER_DRA_MINIMUM, KARPENTER_VERSION, parse_version


def with_backend(setup: GpuSharingSetup, backend: Backend) -> tuple[GpuSharingSetup, list[str]]:
    """``setup`` with every pool that can use ``backend`` moved to it, and what was not moved
    and why (MPS, MIG and Bottlerocket stay with the device plugin; DRA pools of a setup share
    the driver's one ``consumableShares``, so only pools of the first DRA pool's setting move).

    For DRA, a Karpenter described by ``ExistingKarpenter`` is taken as one with the DRA gate
    on, at least 1.15 (a note says so): the run shows what that Karpenter would launch.
    """
    notes: list[str] = []
    pools: list[GpuPool] = []
    shares: str | None = None
    chosen = False
    for pool in setup.pools:
        try:
            moved = dataclasses.replace(pool, backend=backend)
        except ConfigurationError as error:
            notes.append(f"pool {pool.name} stays as it is: {error.problems[0].rule}")
            pools.append(pool)
            continue
        if moved.uses_dra:
            mode = consumable_shares(moved.sharing)
            if chosen and mode != shares:
                notes.append(
                    f"pool {pool.name} stays as it is: the DRA driver shares every GPU one way "
                    f"({shares or 'whole GPUs'}, from the first DRA pool)"
                )
                pools.append(pool)
                continue
            shares, chosen = mode, True
        pools.append(moved)
    karpenter = setup.karpenter
    if chosen and isinstance(karpenter, ExistingKarpenter):
        version = karpenter.version
        if parse_version(version) < parse_version(KARPENTER_DRA_MINIMUM):
            notes.append(
                f"Karpenter {version} cannot provision for DRA claims: simulated as "
                f"{KARPENTER_VERSION} with the DRA gate on"
            )
            version = KARPENTER_VERSION
        elif not karpenter.dra_enabled:
            notes.append("simulated with Karpenter's DRA gate on (your setup says it is off)")
        karpenter = dataclasses.replace(karpenter, version=version, dra_enabled=True)
    return dataclasses.replace(setup, karpenter=karpenter, pools=tuple(pools)), notes
