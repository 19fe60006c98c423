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

from neutrino.api.schemas import REQUEST_BODY_ERROR
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


def _nested(loc: tuple) -> str | None:
    """The key inside an attribute's value an error is about (e.g. a fixed_ips entry's)."""
    parts = [str(p) for p in loc[3:] if not isinstance(p, int)]
    return parts[-1] if parts else None


def _item_loc(loc: tuple) -> tuple:
    """*loc* without the index of a bulk create's item: ``("body", "ports", 3, "name")``
    names ``name`` as ``("body", "port", "name")`` does."""
    return loc[:2] + loc[3:] if len(loc) > 2 and isinstance(loc[2], int) else loc


def validation_message(exc: RequestValidationError) -> str:
    """Neutron's wording for what is wrong with a request body (of the first item that
    is wrong, in a bulk create)."""
    errors = [{**e, "loc": _item_loc(tuple(e["loc"]))} for e in exc.errors()]
    own = next((e for e in errors if e["type"] == REQUEST_BODY_ERROR), None)
    if own is not None:
        return str(own["msg"])
    if any(e["type"] == "json_invalid" or tuple(e["loc"]) == ("body",) for e in errors):
        return "Malformed request body: expected a JSON object."
    wrapper = next((e for e in errors if e["type"] == "missing" and len(e["loc"]) == 2), None)
    if wrapper is not None:
        return (f"Resource body required: '{wrapper['loc'][1]}' is missing from the "
                "request body.")
    unknown = [str(e["loc"][-1]) for e in errors
               if e["type"] == "extra_forbidden" and len(e["loc"]) <= 3]
    if unknown:
        return "Unrecognized attribute(s) '" + ", ".join(sorted(set(unknown))) + "'"
    first = errors[0]
    loc = first["loc"]
    attribute, nested = _attribute(loc), _nested(loc)
    reason = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        reason = f"Unrecognized attribute(s) '{nested}'"
    elif first["type"] == "missing":
        if nested is None:
            return f"Failed to parse request. Required attribute '{attribute}' not specified"
        reason = f"'{nested}' is required"
    elif nested is not None:
        reason = f"'{nested}': {reason}"
    return f"Invalid input for {attribute}. Reason: {reason}."


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
