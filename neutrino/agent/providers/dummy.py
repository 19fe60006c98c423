"""The ``dummy`` provider: plugs an internal port named after the logical port (P11).

It behaves like OVN's built-in dummy provider (``ovn-controller
--enable-dummy-vif-plug``), so the agent's results can be compared with OVN's
own on the same scenario: interface name = logical port name cut to 15 bytes
(the kernel's IFNAMSIZ - 1), type ``internal``, and one maintained option
``vif-plug-dummy-option=value``.
"""
from __future__ import annotations

from typing import ClassVar

from neutrino.agent.provider import OpType, PortContextIn, PortContextOut, VifPlugProvider

#: Longest interface name the kernel accepts (IFNAMSIZ - 1).
IFNAME_MAX = 15
OPTION = "vif-plug-dummy-option"


def ifname(lport_name: str) -> str:
    """The logical port name cut to 15 bytes, as C's ``xmemdup0(name, 15)`` does.

    Cutting bytes may split a multi-byte character; like the C code we keep the
    bytes, decoding leniently so the name stays a valid OVSDB string.
    """
    return lport_name.encode()[:IFNAME_MAX].decode(errors="ignore")


class DummyProvider(VifPlugProvider):
    type: ClassVar[str] = "dummy"
    maintained_options: ClassVar[frozenset[str]] = frozenset({OPTION})

    def prepare(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> bool:
        if ctx_in.op is OpType.REMOVE or ctx_out is None:
            return True
        ctx_out.name = ifname(ctx_in.lport_name)
        ctx_out.type = "internal"
        ctx_out.iface_options = {OPTION: "value"}
        return True
