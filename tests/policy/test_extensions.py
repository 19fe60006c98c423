"""oslo.policy's rule-check plugins: not imported by a server that does not use them,
working as before in a ``policy.yaml`` that does."""
from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from neutrino.policy import Creds
from neutrino.policy.engine import Policy


def test_an_api_worker_imports_no_http_client_for_policy() -> None:
    """What a worker imports and builds, in a fresh interpreter: no ``requests``."""
    code = ("import sys; from neutrino.api.app import create_app; "
            "from neutrino.policy.engine import Policy; Policy(); "
            "print(sorted({'requests', 'oslo_policy._external'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


class _Decides(BaseHTTPRequestHandler):
    """An external policy decision point: allows only the project ``p1``."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"True" if "p1" in body else b"False")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def decider() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Decides)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_an_http_check_in_policy_yaml_asks_its_server(decider: str, tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(f"\"get_agent\": \"{decider}\"\n")
    rules = Policy(str(policy_file))
    allowed = rules.caller(Creds("u", "p1", frozenset({"reader"}))).allowed("get_agent", {})
    refused = rules.caller(Creds("u", "p2", frozenset({"reader"}))).allowed("get_agent", {})
    assert (allowed, refused) == (True, False)
