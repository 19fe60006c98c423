"""The :class:`~neutrino.drivers.api.CoreHandle` backends report through.

A thin adapter: it gives drivers the plain calls of the protocol and keeps
the plugin's request-shaped API (queries, pages) out of their reach.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neutrino.config import Settings
from neutrino.core.context import ADMIN
from neutrino.core.query import ListQuery
from neutrino.drivers.api import PortStatusesWritten, RouterContext, StatusUpdate

if TYPE_CHECKING:
    from neutrino.core.plugin import Plugin


class BackendHandle:
    def __init__(self, plugin: Plugin):
        self._plugin = plugin
        #: The server's settings: the drivers' one source of configuration.
        self.settings: Settings = plugin.settings

    def list_networks(self) -> list[dict[str, Any]]:
        return self._plugin.list_networks(ADMIN)[0]

    def list_subnets(self, network_id: str | None = None) -> list[dict[str, Any]]:
        query = ListQuery(filters={"network_id": [network_id]}) if network_id else None
        return self._plugin.list_subnets(ADMIN, query)[0]

    def list_ports(self) -> list[dict[str, Any]]:
        return self._plugin.list_all_ports()

    def list_security_groups(self) -> list[dict[str, Any]]:
        return self._plugin.list_all_security_groups()

    def get_port(self, port_id: str) -> dict[str, Any] | None:
        return self._plugin.port_without_binding(port_id)

    def set_port_statuses(self, updates: list[StatusUpdate]) -> PortStatusesWritten:
        return self._plugin.set_port_statuses(updates)

    def set_network_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        return self._plugin.set_network_statuses(updates)

    def list_routers(self) -> list[RouterContext]:
        return self._plugin.routers.list_all()

    def router_context(self, router_id: str) -> RouterContext | None:
        return self._plugin.routers.context_of(router_id)

    def set_router_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        return self._plugin.statuses.set_router_statuses(updates)

    def set_floatingip_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        return self._plugin.statuses.set_floatingip_statuses(updates)

    def rebind_ports(self, port_ids: list[str]) -> None:
        self._plugin.rebind_ports(port_ids)
