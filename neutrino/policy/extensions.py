"""oslo.policy's rule-check plugins, each imported only when a rule uses it.

The first time oslo.policy parses a rule it loads every ``oslo.policy.rule_checks``
entry point (through stevedore) to know which check kinds they add.  Its own
``http`` and ``https`` checks import ``requests`` with urllib3, charset_normalizer
and idna: about 6 MB of every API worker, for checks no default rule uses.
:func:`install` hands it the same plugins by name, each loaded on its first use,
so a ``policy.yaml`` with an ``http:`` check works as before.
"""
from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from oslo_policy import _checks

GROUP = "oslo.policy.rule_checks"


class _OnFirstUse:
    """A check kind's factory that imports its plugin when a rule names the kind."""

    def __init__(self, entry_point: EntryPoint) -> None:
        self.entry_point = entry_point

    def __call__(self, kind: str, match: str) -> Any:
        return self.entry_point.load()(kind, match)


def install() -> None:
    """Before any rule is parsed: the plugins by name, none imported yet."""
    if _checks.extension_checks is None:
        _checks.extension_checks = {ep.name: _OnFirstUse(ep) for ep in entry_points(group=GROUP)}
