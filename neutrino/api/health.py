"""``GET /healthz``: whether this server can serve, for load balancers and operators.

The answer is one of four states, judged from the components of
:meth:`Plugin.health` and, under ``neutrino server``, its supervisor's view of
the API workers:

======== ==== ===============================================================
state    code meaning
======== ==== ===============================================================
ok       200  everything is connected; no chassis, plug agent or worker down
degraded 200  serving, but something needs an operator: a backend connection
              lost after start, a chassis or plug agent down, a worker being
              replaced (its siblings serve meanwhile)
starting 503  this worker's backends have not been connected yet since start
down     503  the database is unreachable: no request can be served
======== ==== ===============================================================

A chassis down is not a reason to take the API out of a load balancer: the
API still stores, binds and reports, and the ports say why they are not
ACTIVE.  ``problems`` lists what makes the state other than ok, in words that
quote no address.  ``components`` (database URL dialect, OVSDB remotes, the
status worker's identity, errors) is shown only with ``healthz_details``:
``/healthz`` is open to unauthenticated callers.  Under ``neutrino up`` the
daemons it keeps (OVN, the chassis, the plug agent, Keystone) are components
too: one down is a problem while it is being restarted.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from prometheus_client import Metric
from prometheus_client.core import CounterMetricFamily

from neutrino.core.plugin import Plugin, all_healthy

#: The supervisor's view, or None when the app does not run under ``neutrino server``:
#: ``{"api_workers": {"total": N, "serving": k, "restarts": r},
#: "daemons": {name: {"running": bool, "restarts": r}}}`` (daemons: ``neutrino up``'s).
SupervisorView = Callable[[], dict[str, Any] | None]


class Health:
    """The ``/healthz`` judgment of one API worker."""

    def __init__(self, plugin: Plugin, details: bool, supervisor: SupervisorView) -> None:
        self.plugin, self.details, self.supervisor = plugin, details, supervisor
        self._was_healthy = False

    def judge(self) -> tuple[str, dict[str, Any]]:
        """The state and the components it was judged from."""
        components = {**self.plugin.health(), **(self.supervisor() or {})}
        if not components["database"]["healthy"]:
            return "down", components
        if any(d.get("starting") for d in components.get("daemons", {}).values()):
            return "starting", components  # e.g. Keystone: no request could be served yet
        if all_healthy(components):
            self._was_healthy = True
        elif not self._was_healthy:
            return "starting", components
        return ("degraded" if problems(components) else "ok"), components

    def response(self) -> JSONResponse:
        state, components = self.judge()
        body: dict[str, Any] = {"status": state, "problems": problems(components)}
        if self.details:
            body["components"] = components
        return JSONResponse(body, status_code=503 if state in ("down", "starting") else 200)


def problems(components: dict[str, Any]) -> list[str]:
    """Every component's problems, then workers not serving and daemons down."""
    found = [p for c in components.values() for p in c.get("problems", [])]
    workers = components.get("api_workers")
    if workers and workers["serving"] < workers["total"]:
        found.append(f"{workers['serving']} of {workers['total']} API workers serving")
    found += [f"daemon {name} is starting" if daemon.get("starting")
              else f"daemon {name} is down; restarting it"
              for name, daemon in components.get("daemons", {}).items() if not daemon["running"]]
    return found


def supervisor_metrics(view: dict[str, Any] | None) -> list[Metric]:
    """The restarts the supervisor counted, for ``/metrics`` (read at scrape time: the
    supervisor does not load the metrics library)."""
    if view is None:
        return []
    workers = CounterMetricFamily("neutrino_api_worker_restarts",
                                  "API workers the server started again after they died")
    workers.add_metric([], view["api_workers"]["restarts"])
    daemons = CounterMetricFamily("neutrino_daemon_restarts",
                                  "Daemons neutrino up started again after they died",
                                  labels=["daemon"])
    for name, daemon in view.get("daemons", {}).items():
        daemons.add_metric([name], daemon["restarts"])
    return [workers, daemons]
