"""The local Keystone is real: these tests authenticate against the one it starts,
with keystoneauth1 as every OpenStack client and keystonemiddleware do."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from keystoneauth1 import access, exceptions, session
from keystoneauth1.identity import v3

from neutrino.sandbox.errors import SandboxError
from neutrino.sandbox.keystone import (
    ADMIN,
    ALT,
    DEMO,
    DEMO_READER,
    NOVA,
    SERVICE,
    Keystone,
    User,
)
from neutrino.sandbox.wait import wait_for
from tests.sandbox.processes import processes_under


def login(keystone: Keystone, user: User, **override: str) -> access.AccessInfoV3:
    auth = v3.Password(**{**keystone.auth(user), **override})
    return auth.get_access(session.Session(auth=auth))


def validate(keystone: Keystone, token: str) -> httpx.Response:
    """Validate ``token`` as Neutrino will: with its service user's own token."""
    service_token = login(keystone, SERVICE).auth_token
    return httpx.get(f"{keystone.auth_url}/auth/tokens",
                     headers={"X-Auth-Token": service_token, "X-Subject-Token": token})


def test_admin_token_is_scoped_to_the_admin_project_with_admin(keystone: Keystone) -> None:
    token = login(keystone, ADMIN)
    assert token.project_name == "admin"
    assert {"admin", "member", "reader"} <= set(token.role_names)


def test_demo_token_is_a_member_of_demo_and_not_admin(keystone: Keystone) -> None:
    token = login(keystone, DEMO)
    assert (token.user_domain_name, token.project_name) == ("Default", "demo")
    assert set(token.role_names) == {"member", "reader"}  # member implies reader


def test_service_user_has_service_and_admin_on_service(keystone: Keystone) -> None:
    token = login(keystone, SERVICE)
    assert token.username == "neutrino"
    assert token.project_name == "service"
    assert {"service", "admin"} <= set(token.role_names)


@pytest.mark.parametrize(("user", "project", "roles"), [
    (DEMO_READER, "demo", {"reader"}),
    (ALT, "alt", {"member", "reader"}),
    (NOVA, "service", {"service"}),
])
def test_policy_callers_hold_only_their_roles(keystone: Keystone, user: User, project: str,
                                             roles: set[str]) -> None:
    token = login(keystone, user)
    assert (token.username, token.project_name) == (user.name, project)
    assert set(token.role_names) == roles


def test_alt_and_demo_are_different_projects(keystone: Keystone) -> None:
    assert login(keystone, ALT).project_id != login(keystone, DEMO).project_id
    assert login(keystone, DEMO_READER).project_id == login(keystone, DEMO).project_id


def test_service_user_validates_a_user_token(keystone: Keystone) -> None:
    demo = login(keystone, DEMO)
    response = validate(keystone, demo.auth_token)
    assert response.status_code == 200
    body = response.json()["token"]
    assert body["user"]["name"] == "demo"
    assert body["project"]["id"] == demo.project_id
    assert {role["name"] for role in body["roles"]} == {"member", "reader"}


def test_a_forged_token_does_not_validate(keystone: Keystone) -> None:
    forged = login(keystone, DEMO).auth_token[:-4] + "AAAA"
    assert validate(keystone, forged).status_code == 404


def test_bad_password_is_refused(keystone: Keystone) -> None:
    with pytest.raises(exceptions.Unauthorized):
        login(keystone, DEMO, password="not-the-password")


def test_catalog_has_neutrino_as_the_network_service(keystone: Keystone) -> None:
    catalog = login(keystone, DEMO).service_catalog
    for interface in ("public", "internal", "admin"):
        assert catalog.url_for(service_type="network", interface=interface,
                               region_name="RegionOne") == keystone.network_url
        assert catalog.url_for(service_type="identity", interface=interface) == keystone.auth_url


def listing(keystone: Keystone, collection: str) -> list[dict]:
    admin = login(keystone, ADMIN).auth_token
    response = httpx.get(f"{keystone.auth_url}/{collection}", headers={"X-Auth-Token": admin})
    response.raise_for_status()
    return sorted(response.json()[collection], key=lambda entry: entry["id"])


def test_restart_keeps_users_keys_and_tokens_and_stop_leaves_no_process(
        tmp_path: Path) -> None:
    first = Keystone(tmp_path / "keystone")
    try:
        first.start()
        token = login(first, DEMO).auth_token
        users, projects = listing(first, "users"), listing(first, "projects")
        assert sorted(processes_under(first.base_dir)) == sorted(
            first.pids() + [first.guardian_pid])
    finally:
        first.stop()
    assert processes_under(first.base_dir) == []
    assert not first.pids()

    again = Keystone(tmp_path / "keystone", network_url="http://127.0.0.1:9797")
    try:
        again.start()
        assert again.port == first.port, "a directory keeps its port while it is free"
        assert again.passwords == first.passwords
        assert validate(again, token).status_code == 200, "fernet keys survive a restart"
        assert listing(again, "users") == users
        assert listing(again, "projects") == projects
        network = [e for e in listing(again, "endpoints") if e["url"].endswith(":9797")]
        assert sorted(e["interface"] for e in network) == ["admin", "internal", "public"]
        assert len(listing(again, "endpoints")) == 6, "endpoints moved, not added"
    finally:
        again.stop()
    assert processes_under(again.base_dir) == []
    again.stop()  # idempotent


def test_keystone_does_not_outlive_a_killed_owner() -> None:
    """A test run killed before it can clean up leaves no Keystone behind."""
    owner = subprocess.Popen([sys.executable, "-c", (
        "import time\n"
        "from neutrino.sandbox.keystone import Keystone\n"
        "ks = Keystone()\n"
        "ks.start()\n"
        "print(ks.base_dir, flush=True)\n"
        "time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    base = Path(owner.stdout.readline().strip())  # type: ignore[union-attr]
    assert len(processes_under(base)) == 2  # the server and its guardian
    owner.kill()
    owner.wait()
    wait_for(lambda: not processes_under(base), 15, "guardian to stop Keystone")
    assert not base.exists()


def test_a_second_keystone_on_a_running_directory_is_refused(keystone: Keystone) -> None:
    with pytest.raises(SandboxError, match="already runs"):
        Keystone(keystone.base_dir).start()
    assert validate(keystone, login(keystone, DEMO).auth_token).status_code == 200
