"""The outcome of a conformance run per test, per module, and as markdown.

Input: every test id the run selected (``stestr list``) and the rows of the subunit
stream (:mod:`neutrino.conformance.subunit_rows`). A class whose ``setUpClass`` skips or
fails reports one ``setUpClass (module.Class)`` entry instead of its tests, so its tests
take that entry's outcome here: the counts are of tests, as Neutron's job reports count
them, whether a test skipped by itself or with its class.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

#: subunit status -> outcome. ``xfail`` is a test that failed as it was expected to.
OUTCOMES = {"success": "passed", "xfail": "passed", "skip": "skipped",
            "fail": "failed", "uxsuccess": "failed"}
FIXTURE = re.compile(r"^(setUpClass|tearDownClass|setUpModule|tearDownModule) \((.+)\)$")
#: Parts of an error message that differ between otherwise equal failures.
VARYING = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                     r"|[0-9a-f]{32}|\b\d+(\.\d+)*\b")


#: A request in tempest.log: ``Request (Class:test_x): 404 POST http://host:port/v2.0/x 0.003s``.
REQUEST = re.compile(r"Request \((\w+):(\w+)\): (\d{3}) (\w+) \w+://[^/\s]+(\S*)")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Outcome:
    test: str  # module.Class.method, without tempest's ``[id-…,smoke]`` attributes
    outcome: str  # passed, failed, skipped
    seconds: float
    detail: str  # skip reason or the end of the traceback
    #: A failed test's last request answered with an error (ids as ``{id}``): which call
    #: of the API a failure is about, which the traceback does not say.
    request: str = ""

    @property
    def module(self) -> str:
        return self.test.rsplit(".", 2)[0]

    @property
    def cause(self) -> str:
        """The line of the detail that names what went wrong, ids and numbers kept."""
        lines = [line.strip() for line in self.detail.splitlines() if line.strip()]
        if self.outcome == "skipped":
            return lines[-1] if lines else ""
        errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Failure|"
                                                     r"NotFound|BadRequest|Conflict|Forbidden"
                                                     r"|Unauthorized|ServerFault)\b", line)
                  or line.startswith("Details:")]
        return " ".join(errors[-2:]) if errors else (lines[-1] if lines else "")


@dataclass
class Run:
    outcomes: list[Outcome]
    wall_seconds: float
    #: Failures of a class's tearDownClass (its tests ran): cleanup left something behind.
    cleanup_errors: list[Outcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)


def error_requests(log_lines: Iterable[str]) -> dict[str, str]:
    """``Class:test`` (or ``Class:setUpClass``) -> its last request answered 4xx or 5xx,
    from tempest's log."""
    last: dict[str, str] = {}
    for line in log_lines:
        found = REQUEST.search(line)
        if found and int(found.group(3)) >= 400:
            cls, test, status, method, path = found.groups()
            last[f"{cls}:{test}"] = f"{status} {method} {UUID.sub('{id}', path)}"
    return last


def bare(test_id: str) -> str:
    """``a.b.C.test_x[id-…,smoke]`` -> ``a.b.C.test_x``."""
    return test_id.split("[", 1)[0]


def seconds(row: dict[str, str | None]) -> float:
    if not row.get("start") or not row.get("stop"):
        return 0.0
    return (datetime.fromisoformat(str(row["stop"]))
            - datetime.fromisoformat(str(row["start"]))).total_seconds()


def outcomes(listed: list[str], rows: list[dict[str, str | None]], wall_seconds: float,
             requests: dict[str, str] | None = None) -> Run:
    """Each listed test's outcome: its own row, else its class's ``setUpClass`` row; a test
    with neither did not run (its worker died) and counts as failed. *requests*: from
    :func:`error_requests`, named on failures."""
    requests = requests or {}
    own: dict[str, dict[str, str | None]] = {}
    class_rows: dict[str, dict[str, str | None]] = {}
    cleanup: list[Outcome] = []
    for entry in rows:
        fixture = FIXTURE.match(str(entry["id"]))
        if fixture is None:
            own[bare(str(entry["id"]))] = entry
        elif fixture.group(1).startswith("setUp"):
            class_rows[fixture.group(2)] = entry
        elif OUTCOMES.get(str(entry["status"])) == "failed":
            cleanup.append(Outcome(fixture.group(2), "failed", seconds(entry),
                                   str(entry["detail"] or "")))
    result = []
    for test in sorted({bare(t) for t in listed}):
        row: dict[str, str | None] | None = own.get(test)
        took = seconds(row) if row else 0.0  # a class's skip or error took no test time
        if row is None:
            owner = test.rsplit(".", 1)[0]
            row = class_rows.get(owner) or class_rows.get(owner.rsplit(".", 1)[0])
        if row is None:
            result.append(Outcome(test, "failed", 0.0, "did not run (no result recorded)"))
            continue
        outcome = OUTCOMES.get(str(row["status"]), "failed")
        cls, method = test.rsplit(".", 2)[1:]
        request = (requests.get(f"{cls}:{method}") or requests.get(f"{cls}:setUpClass") or ""
                   if outcome == "failed" else "")
        result.append(Outcome(test, outcome, took, str(row["detail"] or ""), request))
    return Run(result, wall_seconds, cleanup)


def normalized(cause: str) -> str:
    return VARYING.sub("N", cause)[:240]


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(run: Run, title: str, preamble: str) -> str:
    """The summary page: totals, a row per module, skip reasons and failure causes by count,
    and each failed test with its cause."""
    total = len(run.outcomes)
    lines = [f"# {title}", "", preamble.strip(), "",
             "| tests | passed | failed | skipped | wall time |", "|---|---|---|---|---|",
             f"| {total} | {run.count('passed')} | {run.count('failed')} | "
             f"{run.count('skipped')} | {run.wall_seconds / 60:.1f} min |", "",
             "## Per test module", "",
             "Time is the sum of the module's test durations (tests ran in parallel).", "",
             "| module | tests | passed | failed | skipped | time (s) |",
             "|---|---|---|---|---|---|"]
    by_module: dict[str, list[Outcome]] = defaultdict(list)
    for o in run.outcomes:
        by_module[o.module].append(o)
    for module, tests in sorted(by_module.items()):
        counts = Counter(o.outcome for o in tests)
        lines.append(f"| `{module}` | {len(tests)} | {counts['passed']} | {counts['failed']} "
                     f"| {counts['skipped']} | {sum(o.seconds for o in tests):.1f} |")
    # Grouped without the query string: its values differ from test to test.
    failures = Counter((o.request.split("?", 1)[0], normalized(o.cause))
                       for o in run.outcomes if o.outcome == "failed")
    if failures:
        lines += ["", "## Failures by error", "",
                  "The last request of the test answered with an error (without its query "
                  "string; the failed tests below show it), and the error.", "",
                  "| tests | request | cause |", "|---|---|---|"]
        lines += [f"| {n} | {cell(request)} | {cell(cause) or '(none given)'} |"
                  for (request, cause), n in failures.most_common()]
    skips = Counter(normalized(o.cause) for o in run.outcomes if o.outcome == "skipped")
    if skips:
        lines += ["", "## Skips by reason", "", "| tests | reason |", "|---|---|"]
        lines += [f"| {n} | {cell(cause) or '(none given)'} |"
                  for cause, n in skips.most_common()]
    failed = [o for o in run.outcomes if o.outcome == "failed"]
    if failed:
        lines += ["", "## Failed tests", "", "| test | request | cause |", "|---|---|---|"]
        lines += [f"| `{o.test}` | {cell(o.request)} | {cell(o.cause)[:300]} |"
                  for o in failed]
    if run.cleanup_errors:
        lines += ["", "## Class cleanup errors", "",
                  "A class's `tearDownClass` failed after its tests ran.", "",
                  "| class | cause |", "|---|---|"]
        lines += [f"| `{o.test}` | {cell(o.cause)[:300]} |" for o in run.cleanup_errors]
    return "\n".join(lines) + "\n"


def listing(run: Run) -> str:
    """The trimmed raw result: one line per test (outcome, seconds, id), no tracebacks."""
    return "".join(f"{o.outcome:8} {o.seconds:7.2f}  {o.test}\n" for o in run.outcomes)
