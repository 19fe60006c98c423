"""The engine's decisions: kept per caller and target class across requests, and
forgotten when the policy file changes."""
from __future__ import annotations

import os
from pathlib import Path

from neutrino.policy import Creds
from neutrino.policy.engine import Policy

MEMBER_A = Creds("u1", "a", frozenset({"member", "reader"}))
MEMBER_B = Creds("u2", "b", frozenset({"member", "reader"}))
READER_A = Creds("u3", "a", frozenset({"reader"}))


def test_each_caller_gets_its_own_decisions_across_requests() -> None:
    rules = Policy()
    target = {"project_id": "a", "shared": False, "router:external": False}
    for _ in range(2):  # the second time from what the first decided
        assert rules.caller(MEMBER_A).allowed("update_network", target)
        assert not rules.caller(MEMBER_B).allowed("update_network", target)
        assert not rules.caller(READER_A).allowed("update_network", target)
        assert rules.caller(READER_A).allowed("get_network", target)
    assert rules.caller(MEMBER_B).allowed("update_network", {**target, "project_id": "b"})


def test_a_changed_policy_file_applies_from_the_next_request(tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"create_network": "role:member"\n')
    rules = Policy(str(policy_file))
    target = {"project_id": "b"}
    assert rules.caller(MEMBER_A).allowed("create_network", target)
    policy_file.write_text('"create_network": "!"\n')
    stat = policy_file.stat()
    os.utime(policy_file, (stat.st_atime, stat.st_mtime + 10))
    assert not rules.caller(MEMBER_A).allowed("create_network", target)
