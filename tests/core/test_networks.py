"""Networks' decisions (pure); the API tests cover the rest with real databases."""
from __future__ import annotations

import pytest

from neutrino.core import exceptions as exc
from neutrino.core.networks import check_mtu, initial_status
from neutrino.drivers.status import ACTIVE, BUILD, WAITING_FOR_BACKEND


@pytest.mark.parametrize(("async_network_status", "expected"), [
    pytest.param(True, (BUILD, WAITING_FOR_BACKEND), id="a backend reports it later"),
    pytest.param(False, (ACTIVE, None), id="no backend reports it"),
])
def test_initial_status(async_network_status: bool, expected: tuple[str, str | None]) -> None:
    assert initial_status(async_network_status) == expected


@pytest.mark.parametrize(("mtu", "max_mtu", "refused"), [
    pytest.param(1442, 1442, False, id="the maximum"),
    pytest.param(1280, 1442, False, id="below"),
    pytest.param(1443, 1442, True, id="above"),
])
def test_check_mtu(mtu: int, max_mtu: int, refused: bool) -> None:
    if refused:
        with pytest.raises(exc.InvalidInput, match="maximum is 1442"):
            check_mtu(mtu, max_mtu)
    else:
        check_mtu(mtu, max_mtu)
