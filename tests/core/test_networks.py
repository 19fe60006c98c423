"""Networks' decisions (pure); the API tests cover the rest with real databases."""
from __future__ import annotations

import pytest

from neutrino.core import exceptions as exc
from neutrino.core.networks import check_mtu


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
