"""Tells the CMS when ports go up or down, through a webhook.

Events are queued and sent by a background thread in batches, retried with
exponential backoff; the status worker never waits for the CMS.  The body
follows Nova's ``os-server-external-events`` shape so Nova-like consumers
need no translation.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

LOG = logging.getLogger(__name__)

PLUGGED = "network-vif-plugged"
UNPLUGGED = "network-vif-unplugged"
BATCH_WINDOW = 0.1
MAX_BATCH = 100
MAX_ATTEMPTS = 6


def event_for(port: dict[str, Any]) -> dict[str, Any]:
    return {"name": PLUGGED if port["status"] == "ACTIVE" else UNPLUGGED,
            "server_uuid": port["device_id"], "tag": port["port_id"],
            "status": "failed" if port["status"] == "ERROR" else "completed",
            "port_status": port["status"], "status_reason": port["status_reason"]}


class Notifier:
    def __init__(self, url: str):
        self.url = url
        self.sent = 0
        self.dropped = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if url:
            self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
            self._thread.start()

    def port_statuses_changed(self, transitions: list[dict[str, Any]]) -> None:
        """Queue events for ports that went to or came from ACTIVE."""
        if not self.url:
            return
        for t in transitions:
            if (t["status"] == "ACTIVE") != (t["old_status"] == "ACTIVE"):
                self._queue.put(event_for(t))

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)

    def _run(self) -> None:
        import httpx  # only processes that send webhooks pay for importing it (~10 MB)

        with httpx.Client(timeout=5) as client:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                deadline = time.monotonic() + BATCH_WINDOW
                while len(batch) < MAX_BATCH and (left := deadline - time.monotonic()) > 0:
                    try:
                        item = self._queue.get(timeout=left)
                    except queue.Empty:
                        break
                    if item is None:
                        self._send(client, batch)
                        return
                    batch.append(item)
                self._send(client, batch)

    def _send(self, client: httpx.Client, events: list[dict[str, Any]]) -> None:
        import httpx

        delay = 0.2
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                client.post(self.url, json={"events": events}).raise_for_status()
                self.sent += len(events)
                return
            except httpx.HTTPError as e:
                LOG.warning("webhook %s failed (attempt %d/%d): %s", self.url, attempt,
                            MAX_ATTEMPTS, e)
                time.sleep(delay)
                delay = min(delay * 2, 10)
        self.dropped += len(events)
        LOG.error("dropped %d port status events after %d attempts", len(events), MAX_ATTEMPTS)
