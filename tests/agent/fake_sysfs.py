"""A fake sysfs tree shaped like a BlueField-style switchdev NIC (eswitch on the DPU).

Netdevs live under ``devices/<pci path>/net/<name>`` with ``class/net/<name>``
symlinks, as in the kernel. Each eswitch port has ``phys_switch_id`` and
``phys_port_name`` (``p0`` uplink, ``pf0`` host PF representor, ``pf0vf<n>`` /
``c1pf0vf<n>`` VF representors); the uplink carries ``smart_nic/pf/config``
with the host PF MAC, the fallback ovn-vif reads on kernels without devlink
port function ``hw_addr``. ``lo`` and a plain NIC have no switch id.
"""
from __future__ import annotations

from pathlib import Path

SWITCH_ID = "c2b4d80003a1b7e0"
PCI = "devices/pci0000:00/0000:00:02.0/0000:03:00.{fn}"


class FakeSysfs:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "class" / "net").mkdir(parents=True, exist_ok=True)

    def netdev(self, name: str, pci_fn: int | None, address: str, switch_id: str | None = None,
               port_name: str | None = None) -> Path:
        parent = PCI.format(fn=pci_fn) if pci_fn is not None else "devices/virtual"
        path = self.root / parent / "net" / name
        path.mkdir(parents=True, exist_ok=True)
        (path / "address").write_text(address + "\n")
        (path / "ifindex").write_text(f"{abs(hash(name)) % 10000}\n")
        if switch_id is not None:
            (path / "phys_switch_id").write_text(switch_id + "\n")
        if port_name is not None:
            (path / "phys_port_name").write_text(port_name + "\n")
        link = self.root / "class" / "net" / name
        if not link.exists():
            link.symlink_to(Path("../..") / parent / "net" / name)
        return path

    def remove(self, name: str) -> None:
        link = self.root / "class" / "net" / name
        target = link.resolve()
        link.unlink()
        for child in sorted(target.rglob("*"), reverse=True):
            child.unlink() if child.is_file() else child.rmdir()
        target.rmdir()

    def uplink(self, number: int, host_pf_mac: str | None) -> None:
        path = self.netdev(f"p{number}", number, f"0c:42:a1:00:00:{number:02x}", SWITCH_ID,
                           f"p{number}")
        if host_pf_mac is not None:
            config = path / "smart_nic" / "pf"
            config.mkdir(parents=True, exist_ok=True)
            (config / "config").write_text(f"MAC        : {host_pf_mac}\nMaxTxRate  : 0\n"
                                           "State      : Follow\n")

    def host_pf(self, pf: int, controller: int | None = None) -> None:
        prefix = f"c{controller}" if controller is not None else ""
        self.netdev(f"pf{pf}hpf", pf, f"0c:42:a1:00:01:{pf:02x}", SWITCH_ID, f"{prefix}pf{pf}")

    def vf(self, pf: int, vf: int, controller: int | None = None) -> None:
        prefix = f"c{controller}" if controller is not None else ""
        self.netdev(f"pf{pf}vf{vf}", pf, f"0c:42:a1:01:{pf:02x}:{vf:02x}", SWITCH_ID,
                    f"{prefix}pf{pf}vf{vf}")


def bluefield(root: Path, vfs: int = 4) -> FakeSysfs:
    """Two uplinks, their host PF representors and ``vfs`` VFs on PF 0 and 1 on PF 1.

    Host PF MACs: PF0 00:53:00:00:00:42, PF1 00:53:00:00:00:43.
    """
    fake = FakeSysfs(root)
    fake.netdev("lo", None, "00:00:00:00:00:00")
    fake.netdev("oob_net0", None, "0c:42:a1:ff:ff:ff")
    fake.uplink(0, "00:53:00:00:00:42")
    fake.uplink(1, "00:53:00:00:00:43")
    fake.host_pf(0, controller=1)
    fake.host_pf(1, controller=1)
    for vf in range(vfs):
        fake.vf(0, vf, controller=1)
    fake.vf(1, 0, controller=1)
    return fake
