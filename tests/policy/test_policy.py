"""What the API is given to decide with: the engine, or under ``noauth`` nothing at all.

:class:`~neutrino.policy.Unrestricted` stands for the engine only because a
``noauth`` caller (every role, admin and service) passes every rule of the API
under Neutron's defaults; this is checked here rule by rule, against targets of
the caller's project and of another, on networks of either, shared or not, for
network devices and others.
"""
from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

from neutrino.api.auth import NOAUTH_ROLES
from neutrino.policy import RESOURCES, Creds, Unrestricted, load_policy
from neutrino.policy.engine import Policy

NOAUTH = Creds(user_id=None, project_id="fake_project_id", roles=NOAUTH_ROLES)


def targets() -> list[dict[str, object]]:
    found = []
    for own, net_own, shared, owner in itertools.product(
            (True, False), (True, False), (True, False), ("", "network:dhcp", "compute:nova")):
        found.append({"project_id": "fake_project_id" if own else "other",
                      "network:project_id": "fake_project_id" if net_own else "other",
                      "network:shared": shared, "shared": shared, "router:external": False,
                      "device_owner": owner})
    return found


def test_no_default_rule_of_the_api_refuses_a_noauth_caller() -> None:
    engine = Policy().caller(NOAUTH)
    refused = [(rule.name, target) for module in RESOURCES.values() for rule in module.RULES
               if rule.method for target in targets() if not engine.allowed(rule.name, target)]
    assert refused == []


def test_noauth_without_a_policy_file_loads_no_engine() -> None:
    assert isinstance(load_policy("", "noauth"), Unrestricted)
    code = ("import sys; from neutrino.api.app import create_app; "
            "from neutrino.policy import load_policy; load_policy('', 'noauth'); "
            "print(sorted(m for m in ('oslo_policy', 'oslo_config') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_keystone_or_a_policy_file_loads_the_engine(tmp_path: Path) -> None:
    assert isinstance(load_policy("", "keystone"), Policy)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"create_network": "!"\n')
    rules = load_policy(str(policy_file), "noauth")
    assert isinstance(rules, Policy)
    assert not rules.caller(NOAUTH).allowed("create_network", {"project_id": "fake_project_id"})
