"""The parts of ``neutrino conformance`` short of a run: tempest.conf, what it provides
the cloud with, and the summary of a run.

The run itself (``scripts/conformance.sh``, about half an hour) is not part of this suite.
The subunit test writes a real subunit v2 stream with python-subunit from
``.venv-tempest`` and is skipped where that virtualenv was not made.
"""
from __future__ import annotations

import configparser
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.conformance import summary
from neutrino.conformance.run import ROWS_SCRIPT, default_subnetpools
from neutrino.conformance.tempest_conf import Target, render
from neutrino.core.plugin import Plugin

TARGET = Target(auth_url="http://127.0.0.1:5000/v3", admin_username="admin",
                admin_password="p%w$d", admin_project="admin", region="RegionOne",
                extensions=("binding", "net-mtu", "pagination"), public_network_id="pub-id")


def test_tempest_conf_points_at_the_cloud_with_dynamic_credentials(tmp_path: Path) -> None:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(render(TARGET, tmp_path))
    assert conf["identity"]["uri_v3"] == "http://127.0.0.1:5000/v3"
    assert conf["auth"]["use_dynamic_credentials"] == "true"
    assert conf["auth"]["admin_password"] == "p%w$d"
    assert conf["auth"]["create_isolated_networks"] == "false"
    assert conf["network-feature-enabled"]["api_extensions"] == "binding,net-mtu,pagination"
    assert conf["network"]["public_network_id"] == "pub-id"
    for service in ("nova", "glance", "cinder", "swift"):
        assert conf["service_available"][service] == "false"
    assert conf["service_available"]["neutron"] == "true"
    assert conf["DEFAULT"]["log_dir"] == str(tmp_path)
    networks = json.loads(conf["neutron_plugin_options"]["test_mtu_networks"])
    assert {n["provider:network_type"] for n in networks} == {"geneve"}


def row(test_id: str, status: str, detail: str = "", start: str = "2026-01-01T00:00:00+00:00",
        stop: str = "2026-01-01T00:00:02+00:00") -> dict[str, str | None]:
    return {"id": test_id, "status": status, "start": start, "stop": stop, "detail": detail}


LISTED = ["m.a.A.test_ok[id-1,smoke]", "m.a.A.test_bad[id-2]", "m.b.B.test_x[id-3]",
          "m.b.B.test_y[id-4]", "m.c.C.test_lost[id-5]"]
ROWS = [
    row("m.a.A.test_ok[id-1,smoke]", "success"),
    row("m.a.A.test_bad[id-2]", "fail", "Traceback …\ntempest.lib.exceptions.BadRequest: "
        "Bad request\nDetails: {'type': 'HTTPBadRequest', 'message': 'no 42'}"),
    row("setUpClass (m.b.B)", "skip", "router extension not enabled.", None, None),
    row("tearDownClass (m.a.A)", "fail", "tempest.lib.exceptions.Conflict: in use"),
]


def test_a_class_skip_counts_for_each_of_its_tests_and_a_lost_test_fails() -> None:
    run = summary.outcomes(LISTED, ROWS, 60.0)
    by_test = {o.test: o for o in run.outcomes}
    assert len(run.outcomes) == 5
    assert by_test["m.a.A.test_ok"].outcome == "passed"
    assert by_test["m.a.A.test_ok"].seconds == 2.0
    assert by_test["m.a.A.test_bad"].cause == ("tempest.lib.exceptions.BadRequest: Bad request "
                                               "Details: {'type': 'HTTPBadRequest', "
                                               "'message': 'no 42'}")
    assert [by_test[t].outcome for t in ("m.b.B.test_x", "m.b.B.test_y")] == ["skipped"] * 2
    assert by_test["m.b.B.test_x"].cause == "router extension not enabled."
    assert by_test["m.c.C.test_lost"].outcome == "failed"
    assert [o.test for o in run.cleanup_errors] == ["m.a.A"]
    assert (run.count("passed"), run.count("failed"), run.count("skipped")) == (1, 2, 2)


LOG = [
    "… INFO tempest.lib.common.rest_client [req-1 ] Request (A:test_bad): 201 POST "
    "http://127.0.0.1:9696/v2.0/networks 0.010s",
    "… INFO tempest.lib.common.rest_client [req-2 ] Request (A:test_bad): 400 PUT "
    "http://127.0.0.1:9696/v2.0/networks/0b5c1b3e-5b52-4a55-9c6e-8f0e2f7d6a11 0.004s",
    "… INFO tempest.lib.common.rest_client [req-3 ] Request (C:setUpClass): 404 GET "
    "http://127.0.0.1:9696/v2.0/subnetpools?shared=True 0.002s",
]


def test_a_failure_names_its_last_error_request() -> None:
    requests = summary.error_requests(LOG)
    assert requests == {"A:test_bad": "400 PUT /v2.0/networks/{id}",
                        "C:setUpClass": "404 GET /v2.0/subnetpools?shared=True"}
    by_test = {o.test: o for o in summary.outcomes(LISTED, ROWS, 1.0, requests).outcomes}
    assert by_test["m.a.A.test_bad"].request == "400 PUT /v2.0/networks/{id}"
    assert by_test["m.a.A.test_ok"].request == ""


def test_markdown_has_totals_modules_and_causes() -> None:
    page = summary.markdown(summary.outcomes(LISTED, ROWS, 90.0, summary.error_requests(LOG)),
                            "T", "pre")
    assert "| 5 | 1 | 2 | 2 | 1.5 min |" in page
    assert "| `m.a` | 2 | 1 | 1 | 0 | 4.0 |" in page
    assert "| `m.b` | 2 | 0 | 0 | 2 | 0.0 |" in page
    # Numbers in causes are folded so that equal failures group.
    assert "| 1 | 400 PUT /v2.0/networks/{id} | tempest.lib.exceptions.BadRequest" in page
    assert "'message': 'no N'}" in page
    assert "| 2 | router extension not enabled. |" in page
    assert "| `m.a.A` | tempest.lib.exceptions.Conflict: in use |" in page
    assert summary.listing(summary.outcomes(LISTED, ROWS, 1.0)).splitlines()[1] == (
        "passed      2.00  m.a.A.test_ok")


WRITE_STREAM = textwrap.dedent("""\
    import datetime, sys
    import subunit
    out = subunit.StreamResultToBytes(sys.stdout.buffer)
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    t1 = t0 + datetime.timedelta(seconds=3)
    for test, status, files in (
            ("m.a.A.test_ok[id-1]", "success", ()),
            ("m.a.A.test_bad[id-2]", "fail", (("traceback", b"Traceback\\nValueError: no"),)),
            ("setUpClass (m.b.B)", "skip", (("reason", b"not enabled"),))):
        out.status(test_id=test, test_status="inprogress", timestamp=t0)
        for name, data in files:
            out.status(test_id=test, file_name=name, file_bytes=data,
                       mime_type="text/plain; charset=utf8", eof=True)
        out.status(test_id=test, test_status=status, timestamp=t1)
    """)


def test_rows_from_a_real_subunit_stream() -> None:
    """The script runs with tempest's Python in a run; any Python with python-subunit
    (a test dependency) runs it the same way."""
    python = sys.executable
    stream = subprocess.run([python, "-c", WRITE_STREAM], check=True,
                            capture_output=True).stdout
    out = subprocess.run([python, "-P", str(ROWS_SCRIPT)], input=stream, check=True,
                         capture_output=True).stdout
    rows = [json.loads(line) for line in out.decode().splitlines()]
    run = summary.outcomes(["m.a.A.test_ok", "m.a.A.test_bad", "m.b.B.test_z"], rows, 3.0)
    assert [(o.test, o.outcome, o.seconds, o.cause) for o in run.outcomes] == [
        ("m.a.A.test_bad", "failed", 3.0, "ValueError: no"),
        ("m.a.A.test_ok", "passed", 3.0, ""),
        ("m.b.B.test_z", "skipped", 0.0, "not enabled"),
    ]


def test_default_subnetpools_are_made_once(plugin: Plugin) -> None:
    """Shared default pools of both IP versions, as devstack makes them; a second run
    (``--attach`` to the same cloud) finds them and makes none."""
    api = TestClient(create_app(plugin), base_url="http://testserver/v2.0")
    default_subnetpools(api)
    default_subnetpools(api)
    pools = api.get("/subnetpools").json()["subnetpools"]
    assert sorted((p["ip_version"], p["is_default"], p["shared"]) for p in pools) == [
        (4, True, True), (6, True, True)]
