"""Choosing a free address (pure logic; the API tests cover allocation in SQL)."""
from __future__ import annotations

import ipaddress

from neutrino.core import ipam

SMALL = [{"start": "10.0.0.2", "end": "10.0.0.62"}]
LARGE = [{"start": "10.0.0.2", "end": "10.0.255.254"}]


def _never(*_args: object) -> object:
    raise AssertionError("must not be called")


def test_small_pool_picks_among_the_lowest_free_addresses() -> None:
    taken = [f"10.0.0.{i}" for i in range(2, 12)]
    ip = ipam.choose_free(SMALL, {"10.0.0.12"}, is_taken=_never, all_taken=lambda: taken)
    assert ip is not None and ip not in taken and ip != "10.0.0.12"
    assert 13 <= int(ip.rsplit(".", 1)[1]) < 13 + 16


def test_large_pool_looks_up_single_addresses_instead_of_reading_all() -> None:
    looked_up: list[str] = []

    def is_taken(ip: str) -> bool:
        looked_up.append(ip)
        return len(looked_up) < 3  # the first two are taken

    ip = ipam.choose_free(LARGE, set(), is_taken=is_taken, all_taken=_never)
    assert ip == looked_up[-1] and len(looked_up) == 3
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.0.0.0/16")


def test_large_pool_whose_probes_all_hit_taken_addresses_is_read_whole() -> None:
    probes: list[str] = []
    ip = ipam.choose_free(LARGE, set(), is_taken=lambda ip: probes.append(ip) or True,
                          all_taken=lambda: ["10.0.0.2"])
    assert len(probes) == ipam.PROBES
    assert ip is not None and ip != "10.0.0.2"


def test_full_pool_gives_none() -> None:
    taken = [str(ipaddress.ip_address("10.0.0.2") + i) for i in range(61)]
    assert ipam.choose_free(SMALL, set(), is_taken=_never, all_taken=lambda: taken) is None
