"""Neutron-style error bodies for every failure the API can answer with.

``{"NeutronError": {"type": ..., "message": ..., "detail": ""}}`` with the
status code Neutron uses; a client's mistake is always a 4xx naming what
was wrong, never a 500.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from neutrino.core.exceptions import NeutronError

LOG = logging.getLogger(__name__)

HTTP_TYPES = {400: "HTTPBadRequest", 404: "HTTPNotFound", 405: "HTTPMethodNotAllowed",
              413: "HTTPRequestEntityTooLarge", 415: "HTTPUnsupportedMediaType"}


def error_response(status: int, error_type: str, message: str) -> JSONResponse:
    return JSONResponse({"NeutronError": {"type": error_type, "message": message, "detail": ""}},
                        status_code=status)


def _attribute(loc: tuple) -> str:
    """The API attribute a pydantic error location points at (after the wrapper key)."""
    parts = [str(p) for p in loc[2:] if not isinstance(p, int)]
    return parts[0] if parts else (str(loc[1]) if len(loc) > 1 else "body")


def validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    unknown = [_attribute(e["loc"]) if len(e["loc"]) > 2 else str(e["loc"][-1])
               for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        return "Unrecognized attribute(s) '" + ", ".join(sorted(set(unknown))) + "'"
    first = errors[0]
    if first["type"] == "json_invalid" or tuple(first["loc"]) == ("body",):
        return "Malformed request body: expected a JSON object."
    loc = first["loc"]
    if len(loc) <= 2 and first["type"] == "missing":
        what = loc[1] if len(loc) == 2 else "body"
        return f"Resource body required: '{what}' is missing from the request body."
    reason = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"Failed to parse request. Required attribute '{_attribute(loc)}' not specified"
    return f"Invalid input for {_attribute(loc)}. Reason: {reason}."


def install(app: FastAPI) -> None:
    @app.exception_handler(NeutronError)
    async def _neutron(_request: Request, exc: NeutronError) -> JSONResponse:
        if exc.status_code >= 500:
            LOG.error("request failed: %s: %s", exc.type, exc.msg)
        return error_response(exc.status_code, exc.type, exc.msg)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "HTTPBadRequest", validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        error_type = HTTP_TYPES.get(exc.status_code, "HTTPError")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = "The resource could not be found."
        return error_response(exc.status_code, error_type, message)
