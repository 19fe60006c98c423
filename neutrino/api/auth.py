"""Who is calling: Keystone tokens (keystonemiddleware) or ``noauth``, and the request context.

:class:`Identity` runs keystonemiddleware's ``auth_token`` as that library is
designed, as WSGI middleware, on a WSGI environ built from the ASGI scope, in a
worker thread (it does blocking I/O to Keystone).  It removes identity headers a
client sent itself before validating, so only what Keystone vouched for ends
up in the :class:`~neutrino.core.context.Context` every handler passes to the core.
"""
from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from neutrino.api import errors, tokencache
from neutrino.api.tokencache import TokenCache
from neutrino.config import Settings
from neutrino.core.context import NOAUTH_PROJECT_ID, Context
from neutrino.policy import Creds, Rules

LOG = logging.getLogger(__name__)

#: Where handlers find the context in the ASGI scope.
CONTEXT_KEY = "neutrino.context"
#: keystonemiddleware defaults wait forever and retry thrice: a Keystone that is down
#: would hold every request.  Used unless the operator sets them.
TIMEOUT_DEFAULTS = {"http_connect_timeout": 5, "http_request_max_retries": 1}
#: Paths open to everyone, as in Neutron: version discovery and health.
OPEN_PATHS = ("/", "/v2.0", "/v2.0/", "/healthz")
NOAUTH_ROLES = frozenset({"admin", "member", "reader", "service"})

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def context_of(scope: Scope) -> Context:
    """The request's context (set by :class:`Identity` on every path that needs one)."""
    return scope[CONTEXT_KEY]


def _environ(scope: Scope) -> dict[str, Any]:
    """The WSGI environ keystonemiddleware reads: method, path and the headers."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"], "SCRIPT_NAME": "", "PATH_INFO": scope["path"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": "neutrino", "SERVER_PORT": "0", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": scope.get("scheme", "http"), "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.version": (1, 0)}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = value.decode("latin-1")
    return environ


class _Passed(Exception):
    """Raised by the inner WSGI app: the token was accepted; carries the headers set."""

    def __init__(self, environ: dict[str, Any]):
        super().__init__()
        self.environ = environ


def _inner(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    raise _Passed(environ)


class Keystone:
    """keystonemiddleware's ``auth_token`` over an environ: the verified environ, or the
    error response it answered with."""

    def __init__(self, options: dict[str, Any]):
        # Imported here, not at the top: keystonemiddleware and what it pulls in cost each
        # API worker about 19 MB, which a ``noauth`` server has no use for.
        from keystonemiddleware import auth_token

        conf = {**TIMEOUT_DEFAULTS, **options}
        if "www_authenticate_uri" not in conf and "auth_url" in conf:
            # Else a 401 asks Keystone where it is, which fails when Keystone is down.
            conf["www_authenticate_uri"] = conf["auth_url"]
        #: The worker's token cache, unless the operator named memcached servers or a cache.
        self.tokens: TokenCache | None = None
        if not conf.get("memcached_servers") and not conf.get("cache"):
            self.tokens = TokenCache()
            conf["cache"] = tokencache.ENVIRON_KEY
        self._protocol = auth_token.AuthProtocol(_inner, conf)

    def verify(self, environ: dict[str, Any]) -> dict[str, Any] | tuple[int, list, bytes]:
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            answer["status"], answer["headers"] = int(status.split()[0]), headers

        if self.tokens is not None:
            environ[tokencache.ENVIRON_KEY] = self.tokens
        try:
            body = b"".join(self._protocol(environ, start_response))
        except _Passed as passed:
            return passed.environ
        return answer["status"], answer["headers"], body


class Identity:
    """ASGI middleware: authenticates ``/v2.0/…`` (and ``/metrics`` if so configured) and
    puts the caller's :class:`Context` in the scope."""

    def __init__(self, app: ASGIApp, settings: Settings, policy: Rules):
        self.app = app
        self.policy = policy
        self.metrics_require_auth = settings.metrics_require_auth
        self.keystone = (Keystone(settings.keystone_authtoken)
                         if settings.auth_strategy == "keystone" else None)

    def _needs_identity(self, path: str) -> bool:
        if path in OPEN_PATHS:
            return False
        return path.startswith("/v2.0/") or (path == "/metrics" and self.metrics_require_auth)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._needs_identity(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.keystone is None:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope["headers"]}
            scope[CONTEXT_KEY] = self.noauth_context(headers.get("x-project-id"))
            await self.app(scope, receive, send)
            return
        try:
            verified = await run_in_threadpool(self.keystone.verify, _environ(scope))
        except Exception:  # whatever breaks in there, the caller gets a 503, not a 500
            LOG.exception("token validation failed")
            verified = (503, [], b"")
        if isinstance(verified, tuple):
            await self._refuse(*verified)(scope, receive, send)
            return
        scope[CONTEXT_KEY] = self.keystone_context(verified)
        await self.app(scope, receive, send)

    @staticmethod
    def _refuse(status: int, headers: list[tuple[str, str]], body: bytes) -> Response:
        """keystonemiddleware's 401 as it is (Neutron's answer, with ``WWW-Authenticate``);
        anything else, Keystone out of reach above all, a Neutron 503 saying so."""
        if status == 401:
            return Response(body, status_code=401, media_type="application/json",
                            headers={k: v for k, v in headers if k.lower() == "www-authenticate"})
        return errors.error_response(
            503, "HTTPServiceUnavailable",
            "The identity service (Keystone) is unavailable, so the request's token could "
            "not be validated; try again later.")

    def keystone_context(self, environ: dict[str, Any]) -> Context:
        """The context from the headers keystonemiddleware set (oslo.context's names)."""
        roles = frozenset(r.strip().lower() for r in environ.get("HTTP_X_ROLES", "").split(",")
                          if r.strip())
        creds = Creds(user_id=environ.get("HTTP_X_USER_ID"),
                      project_id=environ.get("HTTP_X_PROJECT_ID"), roles=roles,
                      system_scope=environ.get("HTTP_OPENSTACK_SYSTEM_SCOPE"))
        return Context(user_id=creds.user_id, project_id=creds.project_id, roles=roles,
                       is_admin=self.policy.is_admin(creds), is_service="service" in roles,
                       system_scope=creds.system_scope)

    @staticmethod
    def noauth_context(project_id: str | None) -> Context:
        """``noauth``: a caller holding every role (admin and service), in the project the
        request names, as Neutron's noauth; no rule refuses it anything."""
        return Context(user_id=None, project_id=project_id or NOAUTH_PROJECT_ID,
                       roles=NOAUTH_ROLES, is_admin=True, is_service=True)
