"""Type drivers: validate provider segments and allocate tenant segments.

Allocation is a row in ``network_segments`` whose unique ``allocation_key``
claims the VLAN id / VNI / flat physical network; releasing is deleting that
row with its network.  No pre-populated allocation tables are needed, and a
race between two requests ends in a constraint violation that the loser
retries (``retry_on_conflict``).
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from neutrino.config import Settings
from neutrino.core import exceptions as exc
from neutrino.db.models import NetworkSegment

MAX_VLAN = 4094
MAX_GENEVE_VNI = 2**24 - 1
#: Bytes geneve with OVN's options adds on top of an IPv4 underlay (Neutron's default).
GENEVE_OVERHEAD = 58
#: ``session.info`` key: allocation keys a request reserved but has not written yet.
RESERVED_KEYS = "neutrino.reserved_segment_keys"

#: ``physnet -> bool``: whether a backend (e.g. an OVN chassis) maps this physnet.
PhysnetKnown = Callable[[str], bool]


def parse_ranges(entries: list[str], upper: int, what: str) -> list[tuple[int, int]]:
    ranges = []
    for entry in entries:
        try:
            first, last = (int(v) for v in entry.split(":"))
        except ValueError:
            raise ValueError(f"invalid {what} range {entry!r}: expected first:last") from None
        if not 1 <= first <= last <= upper:
            raise ValueError(f"invalid {what} range {entry!r}: must lie within 1..{upper}")
        ranges.append((first, last))
    return ranges


class TypeDriver:
    network_type = ""

    def __init__(self, settings: Settings, physnet_known: PhysnetKnown):
        self.settings = settings
        self.physnet_known = physnet_known

    def validate_provider_segment(self, segment: dict[str, Any]) -> None:
        """Raise :class:`InvalidInput` if *segment* (API attributes) is not acceptable."""

    def allocation_key(self, segment: dict[str, Any]) -> str | None:
        return None

    def reserve_provider_segment(self, session: Session, segment: dict[str, Any]) -> dict[str, Any]:
        """Complete *segment* (allocate what the client left out) and check it is free."""
        key = self.allocation_key(segment)
        if key and session.scalar(
                select(NetworkSegment.id).where(NetworkSegment.allocation_key == key)):
            raise self._in_use(segment)
        return dict(segment, allocation_key=key, is_dynamic=False)

    def allocate_tenant_segment(self, session: Session) -> dict[str, Any] | None:
        """A free tenant segment, or None if this type has none left."""
        return None

    def mtu(self, segment: dict[str, Any]) -> int:
        return self.settings.global_physnet_mtu

    def _in_use(self, segment: dict[str, Any]) -> exc.NeutronError:
        return exc.SegmentationIdInUse(network_type=segment["network_type"],
                                       segmentation_id=segment.get("segmentation_id"),
                                       physical_network=segment.get("physical_network"))

    @staticmethod
    def _invalid(msg: str) -> exc.InvalidInput:
        return exc.InvalidInput(error_message=msg)

    def _pick_free(self, session: Session, prefix: str, ranges: list[tuple[int, int]],
                   make: Callable[[int], dict[str, Any]]) -> dict[str, Any] | None:
        # LIKE matches no NULL key.
        keys = cast(Iterable[str], session.scalars(
            select(NetworkSegment.allocation_key)
            .where(NetworkSegment.allocation_key.like(prefix + "%"))))
        taken = {int(k.rsplit(":", 1)[1]) for k in keys}
        taken |= {int(k.rsplit(":", 1)[1]) for k in session.info.get(RESERVED_KEYS, ())
                  if k.startswith(prefix)}
        # Random among the lowest free ids: concurrent allocators rarely collide,
        # and ids stay compact.
        free: list[int] = []
        for first, last in ranges:
            for value in range(first, last + 1):
                if value not in taken:
                    free.append(value)
                    if len(free) >= 32:
                        break
            if len(free) >= 32:
                break
        if not free:
            return None
        segment = make(random.choice(free))
        return dict(segment, allocation_key=self.allocation_key(segment), is_dynamic=True)


class LocalTypeDriver(TypeDriver):
    network_type = "local"

    def validate_provider_segment(self, segment: dict[str, Any]) -> None:
        for key in ("physical_network", "segmentation_id"):
            if segment.get(key) is not None:
                raise self._invalid(f"{key} prohibited for local provider network")

    def allocate_tenant_segment(self, session: Session) -> dict[str, Any] | None:
        return {"network_type": "local", "physical_network": None, "segmentation_id": None,
                "allocation_key": None, "is_dynamic": True}


class FlatTypeDriver(TypeDriver):
    network_type = "flat"

    def validate_provider_segment(self, segment: dict[str, Any]) -> None:
        physnet = segment.get("physical_network")
        if not physnet:
            raise self._invalid("physical_network required for flat provider network")
        if segment.get("segmentation_id") is not None:
            raise self._invalid("segmentation_id prohibited for flat provider network")
        allowed = self.settings.flat_networks
        if "*" not in allowed and physnet not in allowed and not self.physnet_known(physnet):
            raise self._invalid(f"physical_network '{physnet}' unknown for flat provider network")

    def allocation_key(self, segment: dict[str, Any]) -> str:
        return f"flat:{segment['physical_network']}"

    def _in_use(self, segment: dict[str, Any]) -> exc.NeutronError:
        return exc.FlatNetworkInUse(physical_network=segment["physical_network"])


class VlanTypeDriver(TypeDriver):
    network_type = "vlan"

    def __init__(self, settings: Settings, physnet_known: PhysnetKnown):
        super().__init__(settings, physnet_known)
        self.ranges: dict[str, list[tuple[int, int]]] = {}
        for entry in settings.network_vlan_ranges:
            physnet, _, rng = entry.partition(":")
            self.ranges.setdefault(physnet, [])
            if rng:
                self.ranges[physnet] += parse_ranges([rng], MAX_VLAN, "VLAN")

    def validate_provider_segment(self, segment: dict[str, Any]) -> None:
        physnet = segment.get("physical_network")
        if not physnet:
            raise self._invalid("physical_network required for VLAN provider network")
        if physnet not in self.ranges and not self.physnet_known(physnet):
            raise self._invalid(f"physical_network '{physnet}' unknown for VLAN provider network")
        seg_id = segment.get("segmentation_id")
        if seg_id is not None and not 1 <= seg_id <= MAX_VLAN:
            raise self._invalid(f"segmentation_id out of range (1 through {MAX_VLAN})")

    def allocation_key(self, segment: dict[str, Any]) -> str:
        return f"vlan:{segment['physical_network']}:{segment['segmentation_id']}"

    def reserve_provider_segment(self, session: Session, segment: dict[str, Any]) -> dict[str, Any]:
        if segment.get("segmentation_id") is None:
            physnet = segment["physical_network"]
            found = self._pick_free(session, f"vlan:{physnet}:", self.ranges.get(physnet, []),
                                    lambda vid: dict(segment, segmentation_id=vid))
            if found is None:
                raise exc.NoNetworkAvailable()
            return found
        return super().reserve_provider_segment(session, segment)

    def allocate_tenant_segment(self, session: Session) -> dict[str, Any] | None:
        for physnet, ranges in self.ranges.items():
            def make(vid: int, physnet: str = physnet) -> dict[str, Any]:
                return {"network_type": "vlan", "physical_network": physnet,
                        "segmentation_id": vid}

            found = self._pick_free(session, f"vlan:{physnet}:", ranges, make)
            if found:
                return found
        return None


class GeneveTypeDriver(TypeDriver):
    network_type = "geneve"

    def __init__(self, settings: Settings, physnet_known: PhysnetKnown):
        super().__init__(settings, physnet_known)
        self.ranges = parse_ranges(settings.geneve_vni_ranges, MAX_GENEVE_VNI, "VNI")

    def validate_provider_segment(self, segment: dict[str, Any]) -> None:
        if segment.get("physical_network") is not None:
            raise self._invalid("physical_network prohibited for geneve provider network")
        seg_id = segment.get("segmentation_id")
        if seg_id is not None and not 1 <= seg_id <= MAX_GENEVE_VNI:
            raise self._invalid(f"segmentation_id out of range (1 through {MAX_GENEVE_VNI})")

    def allocation_key(self, segment: dict[str, Any]) -> str:
        return f"geneve:{segment['segmentation_id']}"

    def reserve_provider_segment(self, session: Session, segment: dict[str, Any]) -> dict[str, Any]:
        if segment.get("segmentation_id") is None:
            found = self.allocate_tenant_segment(session)
            if found is None:
                raise exc.NoNetworkAvailable()
            return found
        return super().reserve_provider_segment(session, segment)

    def allocate_tenant_segment(self, session: Session) -> dict[str, Any] | None:
        return self._pick_free(session, "geneve:", self.ranges, lambda vni: {
            "network_type": "geneve", "physical_network": None, "segmentation_id": vni})

    def mtu(self, segment: dict[str, Any]) -> int:
        return self.settings.global_physnet_mtu - GENEVE_OVERHEAD
