"""Provider registry and lifecycle (P1, P2, P10), mirroring OVN's ``test-vif-plug``."""
from __future__ import annotations

import threading
import time
from typing import ClassVar

import pytest

from neutrino.agent.provider import OpType, PortContextIn, PortContextOut, VifPlugProvider
from neutrino.agent.providers.dummy import DummyProvider, ifname
from neutrino.agent.providers.representor import RepresentorProvider
from neutrino.agent.registry import (
    ProviderExists,
    ProviderInitFailed,
    ProviderRegistry,
    UnknownProvider,
)


def ctx(op: OpType = OpType.CREATE, lport: str = "lsp1") -> PortContextIn:
    return PortContextIn(op=op, lport_name=lport, lport_options={}, bridge="br-int")


class Recording(VifPlugProvider):
    """Counts lifecycle calls."""

    type: ClassVar[str] = "recording"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def init(self) -> None:
        self.calls.append("init")

    def teardown(self) -> None:
        self.calls.append("teardown")

    def run(self) -> bool:
        self.calls.append("run")
        return True

    def prepare(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> bool:
        self.calls.append("prepare")
        return True


def test_test_vif_plug_sequence() -> None:
    """The steps of OVN's controller/test-vif-plug.c, in order."""
    registry = ProviderRegistry()
    with pytest.raises(UnknownProvider):
        registry.unregister("dummy")
    handle = registry.register(DummyProvider())
    with pytest.raises(ProviderExists):
        registry.register(DummyProvider())
    assert "vif-plug-dummy-option" in handle.maintained_options
    ctx_in, ctx_out = ctx(), PortContextOut()
    assert handle.provider.prepare(ctx_in, ctx_out) is True
    assert (ctx_out.name, ctx_out.type, ctx_out.iface_options) == (
        "lsp1", "internal", {"vif-plug-dummy-option": "value"})
    handle.provider.finish(ctx_in, ctx_out)
    handle.provider.release(ctx_in, ctx_out)
    registry.teardown_all()
    assert registry.types() == []


def test_dummy_name_is_cut_to_15_bytes_and_remove_is_allowed() -> None:
    assert ifname("a-very-long-logical-port-name") == "a-very-long-log"
    assert len(ifname("ü" * 10).encode()) <= 15  # never a split UTF-8 sequence
    assert DummyProvider().prepare(ctx(OpType.REMOVE), None) is True


def test_lifecycle_init_run_teardown() -> None:
    registry = ProviderRegistry()
    provider = Recording()
    registry.register(provider)
    assert registry.run_all() is True
    registry.unregister("recording")
    assert provider.calls == ["init", "run", "teardown"]
    with pytest.raises(UnknownProvider):
        registry.unregister("recording")


def test_failing_init_is_not_registered() -> None:
    class Broken(Recording):
        type: ClassVar[str] = "broken"

        def init(self) -> None:
            raise OSError("no devlink")

    registry = ProviderRegistry()
    with pytest.raises(ProviderInitFailed, match="no devlink"):
        registry.register(Broken())
    assert registry.get("broken") is None
    registry.register(Recording())  # the registry still works
    registry.teardown_all()


def test_entry_points_discover_builtin_providers(tmp_path) -> None:
    registry = ProviderRegistry()
    assert registry.load_entry_points() == ["dummy", "representor"]
    assert isinstance(registry.get("representor").provider, RepresentorProvider)
    registry.teardown_all()
    registry = ProviderRegistry()
    assert registry.load_entry_points(["dummy", "not-installed"]) == ["dummy"]
    registry.teardown_all()


def test_raising_provider_is_contained() -> None:
    class Raising(Recording):
        type: ClassVar[str] = "raising"

        def prepare(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> bool:
            raise RuntimeError("boom")

        def run(self) -> bool:
            raise RuntimeError("run boom")

    registry = ProviderRegistry()
    handle = registry.register(Raising())
    result = handle.caller.call("prepare", ctx(), PortContextOut())
    assert not result.ok and "RuntimeError: boom" in result.error
    assert registry.run_all() is False
    assert handle.caller.stats["prepare"].errors == 1
    assert handle.caller.health().startswith("degraded:")
    registry.teardown_all()


def test_slow_and_hanging_provider_calls_are_measured_and_abandoned() -> None:
    release = threading.Event()
    released: list[str] = []

    class Slow(Recording):
        type: ClassVar[str] = "slow"

        def prepare(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> bool:
            if ctx_in.lport_name == "hang":
                release.wait(5)
            else:
                time.sleep(0.05)
            return True

        def release(self, ctx_in: PortContextIn, ctx_out: PortContextOut) -> None:
            released.append(ctx_in.lport_name)

    registry = ProviderRegistry(timeout=0.2, slow=0.02)
    handle = registry.register(Slow())
    assert handle.caller.call("prepare", ctx(), PortContextOut()).ok
    assert handle.caller.stats["prepare"].slow == 1

    # The provider hangs until released: getting an answer at all means it was abandoned.
    late = handle.caller.call("prepare", ctx(lport="hang"), PortContextOut(),
                              on_late=lambda ok: handle.provider.release(ctx(lport="hang"),
                                                                         PortContextOut()))
    assert not late.ok and "did not return within" in late.error
    assert handle.caller.busy
    assert not handle.caller.call("prepare", ctx(), PortContextOut()).ok  # no queueing
    release.set()
    deadline = time.monotonic() + 5
    while handle.caller.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert released == ["hang"], "a late yes is released exactly once"
    assert handle.caller.call("prepare", ctx(), PortContextOut()).ok
    registry.teardown_all()
