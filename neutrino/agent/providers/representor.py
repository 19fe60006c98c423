"""The ``representor`` provider: plugs the VF representor of a SmartNIC/DPU port (P12).

The CMS names the function by the MAC address of the host-facing PF
(``vif-plug:representor:pf-mac``) and the VF number relative to it
(``vif-plug:representor:vf-num``). Like ovn-org/ovn-vif, the provider keeps a
table of the eswitch ports and finds the representor netdev from it:

* ports come from sysfs: every netdev with a ``phys_switch_id`` is an eswitch
  port, and ``phys_port_name`` gives its flavour: ``p0`` (physical uplink),
  ``pf0``/``pf0hpf``/``c1pf0`` (PF representor), ``pf0vf3``/``c1pf0vf3``
  (VF representor);
* the host PF MAC of a PF is its devlink port function ``hw_addr``
  (``devlink -j port show``) or, on kernels without it, the ``MAC`` line of
  ``smart_nic/pf/config`` under the physical port with the PF's number - the
  same fallback ovn-vif uses;
* a VF is indexed by (its PF's host MAC, VF number); a VF whose PF is unknown is
  ignored with a warning.

The interface is plugged with the representor's name, no type (a system
netdev) and no options. The sysfs root is configurable (``sysfs_root`` or
``NEUTRINO_REPRESENTOR_SYSFS``) so tests can use a fake tree; the table is
rescanned by ``run`` at most every ``rescan_interval`` seconds and on a lookup
miss.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from neutrino.agent.provider import OpType, PortContextIn, PortContextOut, VifPlugProvider
from neutrino.log import RateLimitedLog, fmt
from neutrino.plugproto import REPRESENTOR_PF_MAC, REPRESENTOR_VF_NUM

LOG = logging.getLogger(__name__)
#: Tables are rebuilt every few seconds; the same complaint once a minute is enough.
_RL = RateLimitedLog(LOG, interval=60.0)
#: Seconds between tries of a failing devlink.
DEVLINK_RETRY = 60.0

_PHYSICAL = re.compile(r"^p(?P<number>\d+)$")
_FUNCTION = re.compile(r"^(?:c(?P<controller>\d+))?pf(?P<pf>\d+)"
                       r"(?:(?P<hpf>hpf)|vf(?P<vf>\d+)|sf(?P<sf>\d+))?$")
_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")


def parse_mac(text: str) -> str | None:
    """Normalized lower-case MAC, or None if ``text`` is not one."""
    mac = text.strip().lower()
    return mac if _MAC.match(mac) else None


@dataclass(frozen=True)
class EswitchPort:
    """One eswitch port as seen in sysfs."""

    netdev: str
    switch_id: str
    flavour: str  # "physical", "pcipf", "pcivf" or "pcisf"
    number: int | None = None  # physical port number
    controller: int = 0
    pf: int | None = None
    vf: int | None = None


def classify(netdev: str, switch_id: str, port_name: str) -> EswitchPort | None:
    """Turn ``phys_port_name`` into an :class:`EswitchPort`; None if unsupported."""
    if m := _PHYSICAL.match(port_name):
        return EswitchPort(netdev, switch_id, "physical", number=int(m["number"]))
    if m := _FUNCTION.match(port_name):
        controller = int(m["controller"] or 0)
        if m["vf"] is not None:
            return EswitchPort(netdev, switch_id, "pcivf", controller=controller,
                               pf=int(m["pf"]), vf=int(m["vf"]))
        if m["sf"] is not None:
            return EswitchPort(netdev, switch_id, "pcisf", controller=controller,
                               pf=int(m["pf"]))
        return EswitchPort(netdev, switch_id, "pcipf", controller=controller, pf=int(m["pf"]))
    return None


def read_sysfs_ports(net_dir: Path) -> list[EswitchPort]:
    """All eswitch ports under ``<sysfs>/class/net``; other netdevs are skipped."""
    ports: list[EswitchPort] = []
    try:
        names = sorted(os.listdir(net_dir))
    except OSError:
        return ports
    for name in names:
        try:
            switch_id = (net_dir / name / "phys_switch_id").read_text().strip()
            port_name = (net_dir / name / "phys_port_name").read_text().strip()
        except OSError:  # not a switchdev port: reading returns EOPNOTSUPP
            continue
        if not switch_id or not port_name:
            continue
        port = classify(name, switch_id, port_name)
        if port is None:
            _RL.warning(("flavour", name), "unsupported eswitch port flavour", netdev=name,
                        phys_port_name=port_name)
            continue
        ports.append(port)
    return ports


def read_compat_pf_mac(net_dir: Path, physical_netdev: str) -> str | None:
    """The host PF MAC from ``smart_nic/pf/config`` (line ``MAC        : xx:..``)."""
    path = net_dir / physical_netdev / "smart_nic" / "pf" / "config"
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        _RL.warning(("compat", str(path)), "host PF MAC fallback unreadable", path=path,
                    error=exc.strerror)
        return None
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip() == "MAC":
            return parse_mac(value)
    return None


def parse_devlink_hw_addrs(devlink_json: str) -> dict[str, str]:
    """netdev -> function ``hw_addr`` of PCI PF ports, from ``devlink -j port show``."""
    result: dict[str, str] = {}
    ports = json.loads(devlink_json).get("port", {})
    for attrs in ports.values():
        netdev = attrs.get("netdev")
        mac = parse_mac(str(attrs.get("function", {}).get("hw_addr", "")))
        if attrs.get("flavour") == "pcipf" and netdev and mac and mac != "00:00:00:00:00:00":
            result[netdev] = mac
    return result


#: What reading ``devlink`` may raise: the tool failing (a kernel without devlink
#: answers "Failed to connect to devlink Netlink"), or its output unparsable.
DEVLINK_ERRORS = (OSError, subprocess.SubprocessError, ValueError)


def read_devlink_hw_addrs() -> dict[str, str]:
    """PF function MACs from the ``devlink`` tool; empty if it is absent; raises one of
    :data:`DEVLINK_ERRORS` if it fails."""
    devlink = shutil.which("devlink")
    if devlink is None:
        return {}
    out = subprocess.run([devlink, "-j", "port", "show"], capture_output=True,
                         text=True, timeout=5, check=True).stdout
    return parse_devlink_hw_addrs(out or "{}")


def build_table(ports: list[EswitchPort], pf_macs: dict[str, str],
                net_dir: Path) -> dict[tuple[str, int], str]:
    """(host PF MAC, VF number) -> VF representor netdev, as ovn-vif indexes it."""
    pf_by_key: dict[tuple[str, int, int], EswitchPort] = {}
    physical: dict[tuple[str, int], EswitchPort] = {}
    for port in ports:
        if port.flavour == "pcipf" and port.pf is not None:
            pf_by_key[(port.switch_id, port.controller, port.pf)] = port
        elif port.flavour == "physical" and port.number is not None:
            physical[(port.switch_id, port.number)] = port
    macs: dict[tuple[str, int, int], str] = {}
    for key, pf in pf_by_key.items():
        mac = pf_macs.get(pf.netdev)
        if mac is None and (phy := physical.get((pf.switch_id, key[2]))) is not None:
            mac = read_compat_pf_mac(net_dir, phy.netdev)
        if mac is None:
            _RL.warning(("pf-mac", pf.netdev), "host PF MAC unknown; its VFs cannot be plugged",
                        pf=pf.netdev)
            continue
        macs[key] = mac
    table: dict[tuple[str, int], str] = {}
    for port in ports:
        if port.flavour != "pcivf" or port.pf is None or port.vf is None:
            continue
        mac = macs.get((port.switch_id, port.controller, port.pf))
        if mac is None:
            if (port.switch_id, port.controller, port.pf) not in pf_by_key:
                _RL.warning(("orphan-vf", port.netdev), "VF representor without known PF ignored",
                            netdev=port.netdev)
            continue
        table[(mac, port.vf)] = port.netdev
    return table


class RepresentorProvider(VifPlugProvider):
    type: ClassVar[str] = "representor"
    # The representor's name, no type and no options: nothing to maintain.
    maintained_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, sysfs_root: str | Path | None = None,
                 rescan_interval: float | None = None, use_devlink: bool | None = None) -> None:
        root = sysfs_root or os.environ.get("NEUTRINO_REPRESENTOR_SYSFS", "/sys")
        self.net_dir = Path(root) / "class" / "net"
        self.rescan_interval = (rescan_interval if rescan_interval is not None else
                                float(os.environ.get("NEUTRINO_REPRESENTOR_RESCAN", "2")))
        # devlink describes the real system; a fake sysfs tree must not mix with it.
        self.use_devlink = use_devlink if use_devlink is not None else Path(root) == Path("/sys")
        self.table: dict[tuple[str, int], str] = {}
        self._scanned_at = float("-inf")
        #: While devlink fails: when to try it again (the table is rebuilt without it).
        self._devlink_retry_at: float | None = None
        self._log = RateLimitedLog(LOG)

    def init(self) -> None:
        self.rescan()

    def rescan(self) -> bool:
        """Rebuild the lookup table; True if it changed."""
        table = build_table(read_sysfs_ports(self.net_dir), self._devlink_hw_addrs(),
                            self.net_dir)
        self._scanned_at = time.monotonic()
        changed = table != self.table
        self.table = table
        return changed

    def _devlink_hw_addrs(self) -> dict[str, str]:
        """devlink's PF MACs, or none while it fails.  A kernel without devlink fails on
        every call: it is tried again every ``DEVLINK_RETRY`` seconds rather than on every
        rescan, said once when it starts failing and once when it works again (a SmartNIC
        driver loaded later brings devlink with it)."""
        now = time.monotonic()
        if not self.use_devlink or (self._devlink_retry_at is not None
                                    and now < self._devlink_retry_at):
            return {}
        try:
            hw_addrs = read_devlink_hw_addrs()
        except DEVLINK_ERRORS as exc:
            if self._devlink_retry_at is None:
                LOG.warning(fmt("devlink port dump failed; PF MACs come from sysfs alone "
                                "until it works", error=repr(exc), retry_s=DEVLINK_RETRY))
            self._devlink_retry_at = now + DEVLINK_RETRY
            return {}
        if self._devlink_retry_at is not None:
            LOG.info("devlink port dump works again")
            self._devlink_retry_at = None
        return hw_addrs

    def run(self) -> bool:
        if time.monotonic() - self._scanned_at < self.rescan_interval:
            return False
        return self.rescan()

    def lookup(self, pf_mac: str, vf_num: int) -> str | None:
        netdev = self.table.get((pf_mac, vf_num))
        if netdev is None and time.monotonic() - self._scanned_at >= min(self.rescan_interval,
                                                                          0.5):
            self.rescan()
            netdev = self.table.get((pf_mac, vf_num))
        return netdev

    def prepare(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> bool:
        if ctx_in.op is OpType.REMOVE or ctx_out is None:
            return True  # nothing to undo for a representor: always allow unplugging
        raw_mac = ctx_in.lport_options.get(REPRESENTOR_PF_MAC)
        raw_vf = ctx_in.lport_options.get(REPRESENTOR_VF_NUM)
        if not raw_mac or raw_vf is None or raw_vf == "":
            ctx_out.reason = f"options {REPRESENTOR_PF_MAC} and {REPRESENTOR_VF_NUM} are required"
            return False
        mac = parse_mac(raw_mac)
        if mac is None:
            ctx_out.reason = f"{REPRESENTOR_PF_MAC} {raw_mac!r} is not a MAC address"
            self._log.warning(("bad-mac", ctx_in.lport_name), "unparsable pf-mac",
                              lport=ctx_in.lport_name, pf_mac=raw_mac)
            return False
        if not raw_vf.isdigit() or int(raw_vf) > 0xFFFF:
            ctx_out.reason = f"{REPRESENTOR_VF_NUM} {raw_vf!r} is not a VF number"
            self._log.warning(("bad-vf", ctx_in.lport_name), "unparsable vf-num",
                              lport=ctx_in.lport_name, vf_num=raw_vf)
            return False
        netdev = self.lookup(mac, int(raw_vf))
        if netdev is None:
            ctx_out.reason = f"no representor found for pf-mac {mac} vf-num {int(raw_vf)}"
            self._log.info(("miss", ctx_in.lport_name), "no representor port found",
                           lport=ctx_in.lport_name, pf_mac=mac, vf_num=raw_vf)
            return False
        ctx_out.name = netdev
        ctx_out.type = None
        ctx_out.iface_options = {}
        return True
