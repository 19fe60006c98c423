"""The underlay connects the sandbox's chassis: their geneve tunnels carry packets, so the
BFD sessions ovn-controller runs on them come up and a gateway group elects a chassis."""
from __future__ import annotations

from neutrino.sandbox import Sandbox
from neutrino.sandbox.underlay import NETWORK
from neutrino.sandbox.wait import wait_for


def test_bfd_comes_up_between_gateway_chassis_and_they_elect_one(sandbox: Sandbox) -> None:
    gw1 = sandbox.add_chassis("gw1")
    gw2 = sandbox.add_chassis("gw2")
    encaps = {sandbox.sbctl("--bare", "--columns=ip", "find", "Encap", f"chassis_name={c}")
              for c in ("gw1", "gw2")}
    assert encaps == {str(NETWORK[1]), str(NETWORK[2])}
    # A gateway port on both chassis: OVN turns BFD on for the tunnels between them.
    sandbox.nbctl("lr-add", "r1", "--", "lrp-add", "r1", "lrp-gw", "00:00:00:00:00:01",
                  "172.24.4.1/24",
                  "--", "lrp-set-gateway-chassis", "lrp-gw", "gw1", "20",
                  "--", "lrp-set-gateway-chassis", "lrp-gw", "gw2", "10")
    wait_for(lambda: gw1.bfd_states() == {"ovn-gw2-0": "up"}
             and gw2.bfd_states() == {"ovn-gw1-0": "up"}, 20, "BFD up both ways")
    wait_for(lambda: sandbox.bound_chassis("cr-lrp-gw") == "gw1", 10,
             "the gateway claimed by the chassis of highest priority")

    # Plugged in again when its ovs-vswitchd restarts (IP, route and neighbours live there).
    gw1.restart("vswitchd")
    wait_for(lambda: gw1.bfd_states() == {"ovn-gw2-0": "up"}
             and gw2.bfd_states() == {"ovn-gw1-0": "up"}, 20, "BFD up again")
    wait_for(lambda: sandbox.bound_chassis("cr-lrp-gw") == "gw1", 10, "gw1 claims again")
