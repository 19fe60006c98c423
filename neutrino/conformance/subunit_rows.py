"""A subunit v2 stream on stdin as JSON lines on stdout, one per test: run with tempest's Python.

python-subunit lives in ``.venv-tempest``, not in Neutrino's virtualenv, so this file
imports nothing from Neutrino and is run by path (``-P`` keeps its directory off
``sys.path``)::

    .venv-tempest/bin/python -P subunit_rows.py < last.subunit > rows.jsonl

Each line: ``{"id", "status", "start", "stop", "detail"}``; times are ISO 8601 or null,
``detail`` the skip reason or the end of a failure's traceback (what names its cause).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

#: Lines of a traceback kept: the last ones say what failed and why.
TRACEBACK_LINES = 12


def detail(test: Mapping[str, Any]) -> str:
    details = test["details"]
    for name in ("traceback", "reason"):
        if name in details:
            text = details[name].as_text()
            return "\n".join(text.strip().splitlines()[-TRACEBACK_LINES:])
    return ""


def main() -> int:
    import subunit
    import testtools
    from testtools.testresult.real import TestDict

    def emit(test: TestDict) -> None:
        start, stop = test["timestamps"]
        sys.stdout.write(json.dumps({
            "id": test["id"], "status": test["status"],
            "start": start.isoformat() if start else None,
            "stop": stop.isoformat() if stop else None,
            "detail": detail(test)}) + "\n")

    result = testtools.StreamToDict(emit)
    result.startTestRun()
    try:
        subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout").run(result)
    finally:
        result.stopTestRun()
    return 0


if __name__ == "__main__":
    sys.exit(main())
