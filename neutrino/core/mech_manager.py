"""Loads mechanism drivers and calls them in configured order.

Drivers come from the ``neutrino.mechanism_drivers`` entry-point group or a
``module:Class`` path, so a third-party driver is installed exactly like the
built-in ``ovn`` one.
"""
from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

from prometheus_client import Metric

from neutrino.core import exceptions as exc
from neutrino.drivers.api import (
    CoreHandle,
    DriverError,
    MechanismDriver,
    PortContext,
    RouterContext,
)

LOG = logging.getLogger(__name__)
GROUP = "neutrino.mechanism_drivers"


class DriverRejected(exc.NeutronError):
    """A driver refused a request; it chose the status code and the error type."""

    def __init__(self, error: DriverError):
        super().__init__(str(error))
        self.status_code = error.status_code
        self._type = error.error_type

    @property
    def type(self) -> str:
        return self._type


def load_class(name: str, group: str) -> type:
    """An entry point in *group* named *name*, or a ``module:Class`` path."""
    if ":" in name:
        module, _, attr = name.partition(":")
        return getattr(importlib.import_module(module), attr)
    matches = entry_points(group=group, name=name)
    if not matches:
        raise ValueError(f"no {group} entry point named {name!r}")
    return next(iter(matches)).load()


class MechanismManager:
    def __init__(self, names: list[str]):
        self.drivers: list[MechanismDriver] = []
        for name in names:
            driver = load_class(name, GROUP)()
            driver.name = name.rpartition(":")[2] if ":" in name else name
            self.drivers.append(driver)

    def initialize(self, core: CoreHandle) -> None:
        for driver in self.drivers:
            driver.initialize(core)

    def physnet_known(self, physnet: str) -> bool:
        segment = {"physical_network": physnet}
        return any(d.check_segment_for_agents(segment) for d in self.drivers)

    def precommit(self, method: str, context: Any) -> None:
        """Call *method* on every driver; any failure aborts the transaction."""
        for driver in self.drivers:
            try:
                getattr(driver, method)(context)
            except exc.NeutronError:
                raise
            except DriverError as e:
                raise DriverRejected(e) from e
            except Exception as e:
                LOG.exception("mechanism driver %s failed in %s", driver.name, method)
                raise exc.MechanismDriverError(method=method) from e

    def postcommit(self, method: str, contexts: list[Any]) -> None:
        """Call *method* on every driver for *contexts* (what one request wrote, see
        ``MechanismDriver.postcommit_all``); the first failure is raised after all ran."""
        error: Exception | None = None
        for driver in self.drivers:
            try:
                driver.postcommit_all(method, contexts)
            except Exception as e:  # every driver must get its call
                LOG.exception("mechanism driver %s failed in %s", driver.name, method)
                error = error or e
        if error is not None:
            raise exc.MechanismDriverError(method=method) from error

    def bind_port(self, context: PortContext) -> str | None:
        """Offer the port to each driver in order; the name of the one that bound it."""
        for driver in self.drivers:
            try:
                driver.bind_port(context)
            except Exception as e:  # one driver must not stop the others
                LOG.exception("mechanism driver %s failed in bind_port", driver.name)
                context.add_failure_reason(f"{driver.name}: {e}")
                continue
            if context.binding is not None:
                return driver.name
        return None

    def call_all(self, method: str) -> None:
        for driver in self.drivers:
            getattr(driver, method)()

    def health(self) -> dict[str, Any]:
        return {d.name: d.health() for d in self.drivers}

    def collect_metrics(self) -> list[Metric]:
        return [metric for d in self.drivers for metric in d.collect_metrics()]

    @property
    def async_l3_status(self) -> bool:
        """Whether a backend reports router and floating IP status itself, later."""
        return any(d.async_l3_status for d in self.drivers)

    def floatingip_status(self, router: RouterContext) -> tuple[str, str | None] | None:
        """The status the first driver that knows it gives a floating IP being associated
        through *router* (None: none knows it at commit)."""
        return next((status for d in self.drivers
                     if (status := d.floatingip_status(router)) is not None), None)

    def list_agents(self) -> list[dict[str, Any]]:
        return [agent for d in self.drivers for agent in d.list_agents()]

    def delete_agent(self, agent_id: str) -> None:
        """Ask the drivers that list the agent to forget it."""
        for driver in self.drivers:
            if any(agent["id"] == agent_id for agent in driver.list_agents()):
                driver.delete_agent(agent_id)
