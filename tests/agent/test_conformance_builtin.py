"""The built-in providers pass the conformance suite offered to third-party providers."""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from neutrino.agent.conformance import LiveProviderConformance
from neutrino.agent.provider import VifPlugProvider
from neutrino.agent.providers.dummy import DummyProvider
from neutrino.agent.providers.representor import RepresentorProvider

from .fake_sysfs import bluefield


class TestDummyConformance(LiveProviderConformance):
    def make_provider(self, tmp_path: Path) -> VifPlugProvider:
        return DummyProvider()


class TestRepresentorConformance(LiveProviderConformance):
    plug_options: ClassVar[dict[str, str]] = {
        "vif-plug:representor:pf-mac": "00:53:00:00:00:42",
        "vif-plug:representor:vf-num": "2"}

    def make_provider(self, tmp_path: Path) -> VifPlugProvider:
        if not (tmp_path / "class").exists():
            bluefield(tmp_path)
        return RepresentorProvider(sysfs_root=tmp_path)
