"""The keyed work queue (neutrino/workqueue.py): table tests on a fake clock, no sleeping."""
from __future__ import annotations

import threading

import pytest

from neutrino.workqueue import DONE, Result, WorkQueue, backoff, requeue_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> WorkQueue[str]:
    return WorkQueue(clock)


# Each step: ("add", key) | ("after", key, delay) | ("backoff", key, first, limit)
# | ("forget", key) | ("tick", seconds) | ("clear",); then what take() returns
# and what seconds_to_next() says.
CASES = {
    "empty": ([], [], None),
    "added keys come out once, oldest first": (
        [("add", "b"), ("add", "a"), ("add", "b")], ["b", "a"], None),
    "a later key is not due yet": ([("after", "a", 2.0)], [], 2.0),
    "a later key is due once its time has come": (
        [("after", "a", 2.0), ("tick", 2.0)], ["a"], None),
    "a zero delay is now": ([("after", "a", 0.0)], ["a"], None),
    "the earlier of two times wins": (
        [("after", "a", 5.0), ("after", "a", 1.0), ("tick", 1.0)], ["a"], None),
    "a later time never postpones an earlier one": (
        [("after", "a", 1.0), ("after", "a", 5.0), ("tick", 1.0)], ["a"], None),
    "a ready key makes the queue due now": ([("after", "a", 3.0), ("add", "b")], ["b"], 3.0),
    "forget cancels a later look": ([("after", "a", 1.0), ("forget", "a"), ("tick", 2.0)],
                                    [], None),
    "forget leaves a ready key ready": ([("add", "a"), ("forget", "a")], ["a"], None),
    "forget then a new time": (
        [("after", "a", 1.0), ("forget", "a"), ("after", "a", 4.0), ("tick", 1.0)], [], 3.0),
    "backoff starts at first": ([("backoff", "a", 1.0, 30.0), ("tick", 0.9)], [], 0.1),
    "clear drops everything": ([("add", "a"), ("after", "b", 1.0), ("clear",)], [], None),
    "due keys join the ready ones in due order": (
        [("add", "r"), ("after", "late", 2.0), ("after", "early", 1.0), ("tick", 2.0)],
        ["r", "early", "late"], None),
}


@pytest.mark.parametrize("steps,taken,next_due", CASES.values(), ids=CASES.keys())
def test_queue(queue: WorkQueue[str], clock: Clock, steps: list[tuple], taken: list[str],
               next_due: float | None) -> None:
    for step in steps:
        match step:
            case ("add", key):
                queue.add(key)
            case ("after", key, delay):
                queue.add_after(key, delay)
            case ("backoff", key, first, limit):
                queue.add_backoff(key, first, limit)
            case ("forget", key):
                queue.forget(key)
            case ("tick", seconds):
                clock.now += seconds
            case ("clear",):
                queue.clear()
    assert queue.take() == taken
    assert queue.seconds_to_next() == (pytest.approx(next_due) if next_due else next_due)


def test_take_respects_the_limit_and_keeps_the_rest(queue: WorkQueue[str]) -> None:
    queue.add_all(["a", "b", "c"])
    assert queue.take(limit=2) == ["a", "b"]
    assert queue.seconds_to_next() == 0.0
    assert queue.take(limit=2) == ["c"]


def test_a_taken_key_stays_due_later_until_done(queue: WorkQueue[str], clock: Clock) -> None:
    queue.add_after("a", 1.0)
    queue.add("a")
    assert queue.take() == ["a"]
    assert queue.seconds_to_next() == pytest.approx(1.0), "the later look is still wanted"
    queue.apply("a", DONE)
    assert queue.seconds_to_next() is None
    assert len(queue) == 0


def test_backoff_doubles_up_to_the_limit_and_forget_resets_it(queue: WorkQueue[str],
                                                              clock: Clock) -> None:
    delays = []
    for _ in range(6):
        delays.append(queue.add_backoff("a", 1.0, 10.0))
        clock.now += delays[-1]
        assert queue.take() == ["a"]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    queue.forget("a")
    assert queue.add_backoff("a", 1.0, 10.0) == 1.0


APPLY = {
    "done cancels a later look": (DONE, None),
    "requeue after": (requeue_after(2.5), 2.5),
    "a later requeue keeps the earlier look": (requeue_after(9.0), 7.0),
    "backoff": (backoff(0.2, 5.0), 0.2),
}


@pytest.mark.parametrize("result,next_due", APPLY.values(), ids=APPLY.keys())
def test_apply(queue: WorkQueue[str], result: Result, next_due: float | None) -> None:
    queue.add_after("a", 7.0)
    queue.apply("a", result)
    assert queue.seconds_to_next() == (None if next_due is None else pytest.approx(next_due))


def test_results_say_whether_they_are_done() -> None:
    assert DONE.done and Result().done
    assert not requeue_after(1.0).done and not backoff(1.0, 2.0).done


def test_adding_wakes_a_waiter_on_a_shared_condition(clock: Clock) -> None:
    """A loop waiting on its own condition for other news is woken by the queue too."""
    cond = threading.Condition()
    queue: WorkQueue[str] = WorkQueue(clock, cond)
    woke = threading.Event()

    def waiter() -> None:
        with cond:
            while queue.seconds_to_next() != 0.0:
                cond.wait()
            woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    queue.add("a")
    thread.join(timeout=10)
    assert woke.is_set()
