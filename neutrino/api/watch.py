"""Waiting without polling: long-poll on a port's status and a Server-Sent Events stream.

One tailing task per API worker reads the status event log (only while
someone is listening) and fans events out to subscribers' queues, so a
thousand waiting clients cost one cheap query per tick, not a thousand.
The core's doorbell wakes the task as soon as events commit on this host,
so the tick is only the fallback.
"""
from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.concurrency import run_in_threadpool

from neutrino.core.events import Doorbell, EventFeed
from neutrino.db.session import Database

#: Seconds between reads of the event log while someone listens.
TICK = 0.01
#: The same where the doorbell rings (SQLite) and has been found by the ringers: it
#: announces every commit, so these reads are only the fallback for a lost ring.
#: A read every 10 ms cost the worker serving an event stream a sixth of its CPU.
RUNG_TICK = 0.25
KEEPALIVE_SECONDS = 15.0

Match = Callable[[dict[str, Any]], bool]


@dataclass(eq=False)
class Subscription:
    match: Match
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


class EventHub:
    def __init__(self, db: Database, doorbell: Doorbell):
        self.db = db
        self.doorbell = doorbell
        self._subs: set[Subscription] = set()
        self._feed: EventFeed | None = None
        self._task: asyncio.Task | None = None
        #: The tail's reads get a thread of their own: on the request handlers' pool
        #: they queued behind every create and update in flight, and an event reached
        #: its listeners up to tens of milliseconds late.
        self._reader = anyio.CapacityLimiter(1)

    async def subscribe(self, match: Match, after: int | None = None) -> Subscription:
        """Receive every event matching *match* committed from now on (or after id *after*)."""
        sub = Subscription(match)
        if self._feed is None:
            self._feed = await run_in_threadpool(EventFeed, self.db)
        if after is not None and after < self._feed.floor:
            backlog = await run_in_threadpool(EventFeed(self.db, after).poll)
            for event in backlog:
                if event["id"] <= self._feed.floor and match(event):
                    sub.queue.put_nowait(event)
        self._subs.add(sub)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._tail())
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    async def _tail(self) -> None:
        feed = self._feed
        assert feed is not None, "subscribe opens the feed before it starts the tail"
        loop = asyncio.get_running_loop()
        rung = asyncio.Event()
        bell = self.doorbell.listen()
        # Ringers find a new bell at their next look for listeners: until then (and
        # with no doorbell at all) the log is read at the fast tick.
        rung_from = float("inf")
        if bell is not None:
            loop.add_reader(bell.fileno(), _ring, bell, rung)
            rung_from = loop.time() + Doorbell.LISTENERS_TTL
        try:
            while self._subs:
                tick = RUNG_TICK if loop.time() >= rung_from else TICK
                rung.clear()
                events = await anyio.to_thread.run_sync(feed.poll, limiter=self._reader)
                for event in events:
                    for sub in list(self._subs):
                        if sub.match(event):
                            sub.queue.put_nowait(event)
                try:
                    await asyncio.wait_for(rung.wait(), tick)
                except TimeoutError:
                    pass
        finally:
            if bell is not None:
                loop.remove_reader(bell.fileno())
                bell.close()
        # Nobody listens: forget the position; the next subscriber starts from "now".
        self._feed = None


def _ring(bell: socket.socket, rung: asyncio.Event) -> None:
    """The doorbell rang: empty its queue and wake the tailing task."""
    try:
        while bell.recv(64):
            pass
    except BlockingIOError:
        pass
    rung.set()


async def wait_for_status(hub: EventHub, read: Callable[[], dict[str, Any]], port_id: str,
                          wanted: str, timeout: float) -> dict[str, Any]:
    """The port once its status is *wanted*, or as it is when *timeout* runs out."""
    sub = await hub.subscribe(lambda e: e["resource"] == "port" and e["resource_id"] == port_id)
    try:
        port = await run_in_threadpool(read)  # subscribed first: no change slips between
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while port["status"] != wanted:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                event = await asyncio.wait_for(sub.queue.get(), left)
            except TimeoutError:
                break
            if event["status"] == wanted:
                port = await run_in_threadpool(read)
        return port
    finally:
        hub.unsubscribe(sub)


async def event_stream(hub: EventHub, match: Match, after: int | None) -> AsyncIterator[bytes]:
    """SSE frames: ``id``, ``event: <resource>.status`` and the event as JSON data."""
    sub = await hub.subscribe(match, after)
    try:
        yield b": neutrino status events\n\n"
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            yield (f"id: {event['id']}\nevent: {event['resource']}.status\n"
                   f"data: {json.dumps(event)}\n\n").encode()
    finally:
        hub.unsubscribe(sub)
