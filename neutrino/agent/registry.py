"""The provider registry: providers by ``vif-plug-type``, with OVN's lifecycle rules (P1).

* registering a type twice fails (:class:`ProviderExists`);
* unregistering an unknown type fails (:class:`UnknownProvider`);
* a provider whose ``init`` fails is not registered (:class:`ProviderInitFailed`);
* every registered provider is torn down on :meth:`ProviderRegistry.teardown_all`;
* :meth:`ProviderRegistry.run_all` is True if any provider's ``run`` reported a change.

Providers come from the ``neutrino.vif_plug_providers`` entry point group.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points

from neutrino.agent.calls import ContainedCaller
from neutrino.agent.provider import VifPlugProvider
from neutrino.log import fmt

LOG = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "neutrino.vif_plug_providers"


class RegistryError(Exception):
    """Base of registry errors."""


class ProviderExists(RegistryError):
    """A provider of that type is already registered."""


class UnknownProvider(RegistryError):
    """No provider of that type is registered."""


class ProviderInitFailed(RegistryError):
    """The provider's ``init`` raised or overran its deadline."""


class ProviderHandle:
    """A registered provider and the contained caller every call goes through."""

    def __init__(self, provider: VifPlugProvider, timeout: float, slow: float) -> None:
        self.provider = provider
        self.type = provider.type
        self.maintained_options = frozenset(provider.maintained_options)
        self.caller = ContainedCaller(provider.type, provider, timeout, slow)


class ProviderRegistry:
    """Providers by type. ``timeout`` bounds how long the agent waits for a
    provider call; calls slower than ``slow`` seconds are logged."""

    def __init__(self, timeout: float = 2.0, slow: float = 0.1,
                 init_timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.slow = slow
        self.init_timeout = init_timeout
        self._providers: dict[str, ProviderHandle] = {}

    def register(self, provider: VifPlugProvider) -> ProviderHandle:
        """Initialize and register ``provider``; see the module rules."""
        if provider.type in self._providers:
            LOG.warning(fmt("duplicate VIF plug provider not registered", type=provider.type))
            raise ProviderExists(provider.type)
        handle = ProviderHandle(provider, self.timeout, self.slow)
        result = handle.caller.call("init", timeout=self.init_timeout,
                                    on_late=lambda _: provider.teardown())
        if not result.ok:
            handle.caller.stop()
            LOG.warning(fmt("VIF plug provider failed to initialize", type=provider.type,
                            error=result.error))
            raise ProviderInitFailed(f"{provider.type}: {result.error}")
        self._providers[provider.type] = handle
        LOG.info(fmt("VIF plug provider registered", type=provider.type))
        return handle

    def unregister(self, provider_type: str) -> None:
        """Tear down and forget the provider of ``provider_type``."""
        handle = self._providers.pop(provider_type, None)
        if handle is None:
            raise UnknownProvider(provider_type)
        result = handle.caller.call("teardown", timeout=self.init_timeout)
        if not result.ok:
            LOG.warning(fmt("VIF plug provider teardown failed", type=provider_type,
                            error=result.error))
        handle.caller.stop()

    def get(self, provider_type: str) -> ProviderHandle | None:
        return self._providers.get(provider_type)

    def types(self) -> list[str]:
        return sorted(self._providers)

    def handles(self) -> list[ProviderHandle]:
        return [self._providers[t] for t in self.types()]

    def __bool__(self) -> bool:
        return bool(self._providers)

    def flush(self) -> None:
        """Hand every provider its queued ``finish``/``release`` calls."""
        for handle in self._providers.values():
            handle.caller.flush()

    def run_all(self) -> bool:
        """Call every provider's ``run``; True if any reported changed lookup tables."""
        changed = False
        for handle in self.handles():
            result = handle.caller.call("run")
            changed |= bool(result.ok and result.value)
        return changed

    def teardown_all(self) -> None:
        for provider_type in self.types():
            self.unregister(provider_type)

    def load_entry_points(self, names: Iterable[str] | None = None) -> list[str]:
        """Register providers from the entry point group; ``names`` restricts which.

        A provider that fails to load or initialize is logged and skipped: the
        agent still serves the others. Returns the types registered.
        """
        wanted = None if names is None else set(names)
        registered = []
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if wanted is not None and ep.name not in wanted:
                continue
            try:
                cls = ep.load()
                provider = cls()
                if provider.type != ep.name:
                    raise RegistryError(f"entry point {ep.name!r} provides type "
                                        f"{provider.type!r}")
                self.register(provider)
            except Exception as exc:  # noqa: BLE001 - one bad plugin must not stop the agent
                LOG.warning(fmt("VIF plug provider not loaded", entry_point=ep.name,
                                error=repr(exc)))
                continue
            registered.append(ep.name)
        if wanted is not None:
            for missing in sorted(wanted - set(registered)):
                LOG.warning(fmt("requested VIF plug provider not available", type=missing))
        return registered
