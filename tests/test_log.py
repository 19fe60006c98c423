"""Structured logs, and repeated warnings rate-limited."""
from __future__ import annotations

import json
import logging

from neutrino.log import JsonFormatter, RateLimit, RateLimitedLog


def record(msg: str, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("neutrino.test", level, __file__, 1, msg, (), None)


def test_repeated_warning_is_suppressed_then_counted(monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("neutrino.log.time.monotonic", lambda: clock[0])
    limit = RateLimit(interval=10)
    assert limit.filter(record("chassis %s down"))
    assert not limit.filter(record("chassis %s down"))
    assert not limit.filter(record("chassis %s down"))
    assert limit.filter(record("another warning"))
    assert limit.filter(record("chassis %s down", logging.INFO))  # below WARNING: never limited
    clock[0] += 11
    again = record("chassis %s down")
    assert limit.filter(again)
    assert "[2 similar messages suppressed]" in again.msg


def test_json_lines() -> None:
    line = JsonFormatter().format(record("port %s up"))
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["msg"] == "port %s up"
    assert entry["logger"] == "neutrino.test"


def test_rate_limited_log_is_per_condition(monkeypatch, caplog) -> None:
    clock = [50.0]
    monkeypatch.setattr("neutrino.log.time.monotonic", lambda: clock[0])
    log = RateLimitedLog(logging.getLogger("neutrino.test"), interval=30)
    with caplog.at_level(logging.WARNING, logger="neutrino.test"):
        assert log.warning(("unknown-type", "lsp1"), "unknown plug type", lport="lsp1")
        assert not log.warning(("unknown-type", "lsp1"), "unknown plug type", lport="lsp1")
        assert log.warning(("unknown-type", "lsp2"), "unknown plug type", lport="lsp2")
        log.forget(("unknown-type", "lsp1"))  # the condition cleared: a recurrence shows at once
        assert log.warning(("unknown-type", "lsp1"), "unknown plug type", lport="lsp1 b")
    assert [r.getMessage() for r in caplog.records] == [
        "unknown plug type lport=lsp1", "unknown plug type lport=lsp2",
        'unknown plug type lport="lsp1 b"']
