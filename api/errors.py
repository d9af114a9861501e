"""One error body for every failure: ``{"error": {"type": kind, "message": ..., "code": kind, "param": null}}``,
with the status from ERROR_TABLE."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from foldrag.core.errors import ERROR_TABLE, FoldragError, Overloaded

log = logging.getLogger("foldrag.api")

# Statuses Starlette raises itself (unknown route, wrong method), mapped to our kinds.
_STATUS_KINDS = {404: "not_found", 401: "unauthorized", 403: "forbidden", 413: "too_large", 415: "unsupported_type"}


def error_body(kind: str, message: str) -> dict:
    """The one error body. ``code`` and ``param`` complete OpenAI's error shape, so its clients parse it too."""
    return {"error": {"type": kind, "message": message, "code": kind, "param": None}}


INTERNAL = "internal error; the server log has the details"  # a bug's own text stays in the log: it may hold data


def error_response(exc: FoldragError) -> JSONResponse:
    headers = {}
    if isinstance(exc, Overloaded):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.kind == "unauthorized":
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(exc.kind, str(exc)), status_code=exc.spec.http_status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        if err.get("type") == "json_invalid":
            parts.append("the request body is not valid JSON")
        else:
            parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FoldragError)
    async def _foldrag(request: Request, exc: FoldragError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        spec = ERROR_TABLE["invalid_input"]
        return JSONResponse(error_body("invalid_input", _validation_message(exc)), status_code=spec.http_status)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        kind = _STATUS_KINDS.get(exc.status_code, "invalid_input" if exc.status_code < 500 else "internal")
        return JSONResponse(error_body(kind, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # The exception's text stays in the server log: it can hold paths, settings or data.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        spec = ERROR_TABLE["internal"]
        return JSONResponse(error_body("internal", INTERNAL),
                            status_code=spec.http_status)
