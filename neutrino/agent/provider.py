"""The VIF plug provider interface: what a provider implements, and what it is given.

A provider knows how to find or make the interface that backs a logical port on
this chassis (a VF representor, a veth, a dummy port...). The agent owns the OVS
database: a provider never writes to it. Per port, the agent calls

* ``prepare(ctx_in, ctx_out)`` - go ahead or not; for ``CREATE`` (which means
  "create or update") fill ``ctx_out`` with the interface name, type and options;
* ``finish(ctx_in, ctx_out)`` - only once the OVS transaction carrying the change
  has committed (immediately if nothing needed changing);
* ``release(ctx_in, ctx_out)`` - exactly once for every ``CREATE`` prepare that
  returned True, after ``finish`` or instead of it when the change was abandoned
  (transaction failed, name change refused). Free what ``prepare`` allocated here.

A provider that declines (``prepare`` returns False) gets neither ``finish`` nor
``release``: it must clean up before returning. For ``REMOVE`` there is no
``ctx_out`` (``None``) and no ``release``.

All calls are made from one agent thread per provider, never concurrently for
the same provider; they are on the agent's critical path and must not block.
"""
from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


class OpType(enum.Enum):
    """What the agent is about to do with a port."""

    #: Create the interface, or bring an existing one up to date.
    CREATE = "create"
    #: Delete the interface.
    REMOVE = "remove"


@dataclass(frozen=True)
class PortContextIn:
    """What the agent tells the provider about one port. Read-only.

    ``lport_options`` is a copy of the SB ``Port_Binding.options``; by convention
    a provider reads only ``vif-plug-*`` keys and its own ``vif-plug:<type>:*``
    namespace. ``iface_*`` describe the existing interface when there is one.
    """

    op: OpType
    lport_name: str
    lport_options: Mapping[str, str]
    bridge: str
    iface_name: str | None = None
    iface_type: str | None = None
    iface_options: Mapping[str, str] = field(default_factory=dict)


@dataclass
class PortContextOut:
    """What the provider answers for a ``CREATE``.

    ``name`` is the interface (and port) name; ``type`` the interface type, or
    None for a system netdev (the column is then left as it is); ``iface_options``
    the interface options. ``reason`` explains a decline; it becomes the port's
    status reason. ``data`` is the provider's own, handed back to ``finish`` and
    ``release``.
    """

    name: str | None = None
    type: str | None = None
    iface_options: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    data: Any = None


class VifPlugProvider(abc.ABC):
    """Base class of VIF plug providers, registered by :attr:`type`.

    Subclasses are discovered through the ``neutrino.vif_plug_providers`` entry
    point group; the entry point name must equal :attr:`type`. The constructor
    takes no arguments (configuration comes from the environment or files);
    heavy set-up belongs in :meth:`init`.
    """

    #: The ``vif-plug-type`` value this provider serves.
    type: ClassVar[str]
    #: Interface option keys this provider owns: the agent sets them to the
    #: values from ``prepare`` and deletes them when ``prepare`` omits them.
    #: Other option keys on the interface are never touched on update.
    maintained_options: ClassVar[frozenset[str]] = frozenset()

    def init(self) -> None:
        """Acquire resources. Raise to refuse registration (the provider is then
        not registered and never called again)."""

    def teardown(self) -> None:
        """Release resources; called once when the provider is unregistered."""

    def run(self) -> bool:
        """Periodic housekeeping. Return True if lookup tables changed, so that
        ports this provider declined earlier are reconsidered now."""
        return False

    @abc.abstractmethod
    def prepare(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> bool:
        """Decide whether to plug/update (``CREATE``) or unplug (``REMOVE``) a port."""

    def finish(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> None:
        """The change prepared for this port has been committed to the OVS DB."""

    def release(self, ctx_in: PortContextIn, ctx_out: PortContextOut) -> None:
        """Free what ``prepare`` allocated for a ``CREATE``; called exactly once."""
