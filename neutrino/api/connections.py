"""Limits on client connections of an API worker: a deadline for request headers.

uvicorn closes a keep-alive connection that sends nothing, but once a client
has sent part of a request line or headers it waits for the rest forever:
each such connection holds a file descriptor, and a few thousand of them
exhaust a worker's limit (a slow-loris client).  :class:`HeaderDeadline`
gives every request ``client_header_timeout`` seconds, from the moment the
worker starts waiting for it, to finish its headers; a request still
incomplete then is answered 408 and its connection closed.  Bodies are not
timed here: a client that declared a body and stalls is bounded by the body
size limit and by the request handler.

The count of connections is bounded by uvicorn itself (``limit_concurrency``,
setting ``max_connections_per_worker``): past it, new requests get 503.

This hooks uvicorn's httptools protocol (``on_headers_complete`` and
``on_response_complete`` are its parser and cycle callbacks), the protocol
uvicorn picks anyway when httptools is installed, as it always is here.
"""
from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                   b"content-length: 38\r\nconnection: close\r\n\r\n"
                   b"request headers not received in time\r\n")


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's protocol, with a deadline on each request's headers."""

    #: Set by :func:`protocol_with_deadline` (the protocol is built by uvicorn).
    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        #: Whether any byte of the awaited request arrived (else closing needs no answer).
        self._started = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is not None:
            self._started = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._started = False
        self._deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._started:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def protocol_with_deadline(header_timeout: float) -> type[HeaderDeadline]:
    """The protocol class for ``uvicorn.Config(http=...)`` with this deadline."""
    return type("HeaderDeadline", (HeaderDeadline,), {"header_timeout": header_timeout})
