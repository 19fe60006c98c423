"""A conformance suite third-party VIF plug providers run against themselves.

Subclass one of the classes in your provider package's tests (pytest collects
the subclass because its name starts with ``Test``)::

    from neutrino.agent.conformance import LiveProviderConformance

    class TestMyProvider(LiveProviderConformance):
        plug_options = {"vif-plug:mine:slot": "3"}   # options your provider plugs

        def make_provider(self, tmp_path):
            return MyProvider()

:class:`ProviderConformance` checks the contract in-process (P1, P2, P10):
type and maintained options, registration rules, entry point, what ``prepare``
answers for create and remove, that declining explains why, speed, and that
``finish``/``release``/``run`` behave. :class:`LiveProviderConformance` also
plugs a port through the real Neutrino agent into a sandbox OVN chassis and
unplugs it again (needs the OVS/OVN packages, see docs/plug-providers.md).

The suite is written for pytest's collection (``Test*`` classes, xunit-style
``setup_method``/``teardown_method``) but does not import pytest: this module
ships with the agent, and a shipped module imports no test kit.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from neutrino.agent.harness import AgentThread, bridge_rows
from neutrino.agent.provider import OpType, PortContextIn, PortContextOut, VifPlugProvider
from neutrino.agent.registry import (
    ENTRY_POINT_GROUP,
    ProviderExists,
    ProviderRegistry,
    UnknownProvider,
)
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

#: Interface types whose names are kernel netdev names (IFNAMSIZ - 1 bytes at most).
NETDEV_TYPES = (None, "", "system", "internal")


class ProviderConformance:
    """In-process contract checks. Override :meth:`make_provider` and :attr:`plug_options`."""

    #: ``Port_Binding.options`` (besides vif-plug-type) for which ``prepare`` plugs.
    plug_options: ClassVar[Mapping[str, str]] = {}
    lport_name: ClassVar[str] = "conformance-lport-0001"
    #: Median seconds a ``prepare`` may take: it runs on the agent's critical path.
    max_prepare_seconds: ClassVar[float] = 0.05
    #: Check that the provider is installed under ``neutrino.vif_plug_providers``.
    check_entry_point: ClassVar[bool] = True

    def make_provider(self, tmp_path: Path) -> VifPlugProvider:
        raise NotImplementedError("return a new instance of the provider under test")

    def setup_method(self, method: Any) -> None:
        """Per test: a scratch directory, a registry and the provider registered in it."""
        self._tmp = tempfile.TemporaryDirectory(prefix="neutrino-conformance-")
        self.tmp_path = Path(self._tmp.name)
        self.registry = ProviderRegistry()
        self.provider = self.registry.register(self.make_provider(self.tmp_path)).provider

    def teardown_method(self, method: Any) -> None:
        self.registry.teardown_all()
        self._tmp.cleanup()

    def ctx(self, op: OpType = OpType.CREATE,
            options: Mapping[str, str] | None = None) -> PortContextIn:
        opts = dict(self.plug_options if options is None else options)
        return PortContextIn(op=op, lport_name=self.lport_name, lport_options=opts,
                             bridge="br-int")

    def test_type_and_maintained_options(self) -> None:
        provider = self.provider
        assert isinstance(provider.type, str) and provider.type
        assert provider.type == provider.type.strip() and "," not in provider.type
        assert isinstance(provider.maintained_options, frozenset)
        assert all(isinstance(k, str) and k for k in provider.maintained_options)

    def test_registration_rules(self) -> None:
        registry, provider = self.registry, self.provider
        try:
            registry.register(self.make_provider(self.tmp_path))
        except ProviderExists:
            pass
        else:
            raise AssertionError("a second provider of the same type was registered")
        registry.unregister(provider.type)
        try:
            registry.unregister(provider.type)
        except UnknownProvider:
            pass
        else:
            raise AssertionError("unregistering an unknown type did not raise UnknownProvider")

    def test_entry_point(self) -> None:
        provider = self.provider
        if not self.check_entry_point:
            return
        found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        assert provider.type in found, f"no entry point {provider.type!r} in {ENTRY_POINT_GROUP}"
        assert found[provider.type].load() is type(provider)

    def test_prepare_create_describes_an_interface(self) -> None:
        provider = self.provider
        ctx_in, ctx_out = self.ctx(), PortContextOut()
        options_before = dict(ctx_in.lport_options)
        assert provider.prepare(ctx_in, ctx_out) is True, ctx_out.reason
        assert dict(ctx_in.lport_options) == options_before, "prepare must not edit its input"
        assert isinstance(ctx_out.name, str) and ctx_out.name
        assert ctx_out.type is None or isinstance(ctx_out.type, str)
        if ctx_out.type in NETDEV_TYPES:
            assert len(ctx_out.name.encode()) <= 15, "netdev names are at most 15 bytes"
        assert all(isinstance(k, str) and isinstance(v, str)
                   for k, v in ctx_out.iface_options.items())
        provider.finish(ctx_in, ctx_out)
        provider.release(ctx_in, ctx_out)

    def test_prepare_is_deterministic(self) -> None:
        provider = self.provider
        answers = []
        for _ in range(2):
            ctx_in, ctx_out = self.ctx(), PortContextOut()
            assert provider.prepare(ctx_in, ctx_out) is True
            answers.append((ctx_out.name, ctx_out.type, ctx_out.iface_options))
            provider.release(ctx_in, ctx_out)
        assert answers[0] == answers[1], "the agent calls prepare on every pass"

    def test_prepare_is_fast(self) -> None:
        provider = self.provider
        timings = []
        for _ in range(5):
            ctx_in, ctx_out = self.ctx(), PortContextOut()
            start = time.perf_counter()
            provider.prepare(ctx_in, ctx_out)
            timings.append(time.perf_counter() - start)
            provider.release(ctx_in, ctx_out)
        assert statistics.median(timings) < self.max_prepare_seconds

    def test_decline_explains_why(self) -> None:
        provider = self.provider
        ctx_in, ctx_out = self.ctx(options={}), PortContextOut()
        if provider.prepare(ctx_in, ctx_out):
            provider.release(ctx_in, ctx_out)
        else:
            assert isinstance(ctx_out.reason, str) and ctx_out.reason, \
                "a declining prepare sets ctx_out.reason (it becomes the port's status reason)"

    def test_remove_has_no_ctx_out(self) -> None:
        provider = self.provider
        create_in, create_out = self.ctx(), PortContextOut()
        assert provider.prepare(create_in, create_out)
        ctx_in = PortContextIn(op=OpType.REMOVE, lport_name=self.lport_name,
                               lport_options=dict(self.plug_options), bridge="br-int",
                               iface_name=create_out.name, iface_type=create_out.type,
                               iface_options=dict(create_out.iface_options))
        provider.release(create_in, create_out)
        assert isinstance(provider.prepare(ctx_in, None), bool)
        provider.finish(ctx_in, None)

    def test_run_reports_a_bool(self) -> None:
        assert isinstance(self.provider.run(), bool)


class LiveProviderConformance(ProviderConformance):
    """Adds a real plug and unplug through the agent into a sandbox OVN chassis."""

    def test_plug_and_unplug_through_the_agent(self) -> None:
        registry, provider = self.registry, self.provider
        with Sandbox() as sb:
            sb.start_central()
            sb.nbctl("ls-add", "sw0")
            chassis = sb.add_chassis("hv1")
            with AgentThread(chassis, registry):
                options = [f"{k}={v}" for k, v in self.plug_options.items()]
                sb.nbctl("lsp-add", "sw0", self.lport_name, "--", "lsp-set-options",
                         self.lport_name, "requested-chassis=hv1",
                         f"vif-plug-type={provider.type}", *options)
                sb.wait_port_up(self.lport_name)
                rows = [r for r in bridge_rows(chassis).values()
                        if r.iface_id == self.lport_name]
                assert len(rows) == 1 and rows[0].ovn_plugged == provider.type
                sb.nbctl("lsp-del", self.lport_name)
                wait_for(lambda: not any(r.iface_id == self.lport_name
                                         for r in bridge_rows(chassis).values()),
                         10, "interface unplugged")
