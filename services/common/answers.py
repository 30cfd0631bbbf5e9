"""Error answers every service gives: ``{"detail": ...}``, readable (Chinese stays Chinese),
bounded (never the client's whole input echoed back), and saying what to change."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.common.bodies import nested_too_deeply, not_utf8_reason

#: How much of an invalid text value a 422 quotes back.
QUOTED_INPUT_CHARS = 200


class ErrorResponse(JSONResponse):
    """JSON with Chinese as characters, not ``\\uXXXX``. A lone surrogate (JSON can carry
    one in an escape, UTF-8 cannot) is written back as its JSON escape instead of
    failing the answer with a 500."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        # json.dumps puts text only inside string literals, where "\udc00" is a valid escape.
        return text.encode("utf-8", errors="backslashreplace")


def install_error_answers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    wrong_type = _body_not_read_as_json(errors)
    if wrong_type:
        got = request.headers.get("content-type")
        return ErrorResponse(
            {
                "detail": "the body must be JSON, sent with Content-Type: application/json "
                + (f"(this request has {got!r})" if got else "(this request has none)")
            },
            status_code=415,
        )
    return ErrorResponse({"detail": [_bounded(e) for e in errors]}, status_code=422)


def _body_not_read_as_json(errors: Any) -> bool:
    # FastAPI hands a JSON route the raw bytes when the Content-Type is not JSON.
    return any(
        tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes) for e in errors
    )


def _bounded(error: dict[str, Any]) -> dict[str, Any]:
    """One validation error, quoting a short text input and leaving out any other: a
    nested input would be encoded by recursion (a 500 past a depth of about 1000)."""
    answer: dict[str, Any] = {k: error[k] for k in ("type", "loc", "msg") if k in error}
    value = error.get("input")
    if isinstance(value, str):
        answer["input"] = (
            value if len(value) <= QUOTED_INPUT_CHARS else value[:QUOTED_INPUT_CHARS] + "…"
        )
    elif value is None or isinstance(value, bool | int | float):
        answer["input"] = value
    if "ctx" in error:
        answer["ctx"] = {
            k: str(v) if isinstance(v, Exception) else v for k, v in error["ctx"].items()
        }
    return jsonable_encoder(answer)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    detail = exc.detail
    if exc.status_code == 400:
        # FastAPI answers every body it cannot parse with one vague 400; say which problem.
        detail = _why_unreadable(exc.__cause__) or detail
    if exc.status_code < 200 or exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return ErrorResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def _why_unreadable(cause: BaseException | None) -> str | None:
    if isinstance(cause, UnicodeDecodeError) and isinstance(cause.object, bytes):
        return not_utf8_reason(cause.object, cause)
    if isinstance(cause, RecursionError):
        return nested_too_deeply()
    return None
