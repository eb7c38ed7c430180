"""Every error the API answers, in one shape: RFC 9457 problem details (application/problem+json).

What a caller may not see is answered exactly as what does not exist (404, same text); messages
never carry a token, a database URL, or anything of another tenant.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from siteplane.errors import DatabaseUnavailable

PROBLEM = "application/problem+json"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
    """For a refused field: where and why, one entry per problem."""


class ProblemError(Exception):
    """Raise to answer with a problem."""

    def __init__(
        self, status: int, detail: str, *, type_: str = "about:blank", errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.type, self.errors = status, detail, type_, errors


def not_found() -> ProblemError:
    """The one answer for what does not exist and for what the caller may not see."""
    return ProblemError(404, "no such object")


DESCRIPTIONS = {
    400: "The request's parameters are not valid",
    401: "No token, or one the cluster does not accept",
    404: "No such object (or none the caller may see: the two are answered alike)",
    503: "The database or the Kubernetes API is unavailable",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for problem answers, under the media type they are really sent with."""
    return {status: described(DESCRIPTIONS[status]) for status in statuses}


def described(description: str) -> dict[str, Any]:
    """One OpenAPI entry of a problem answer, under the media type it is really sent with."""
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(type=type_, title=TITLES.get(status, "Error"), status=status, detail=detail, errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, error: ProblemError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return problem_response(error.status, error.detail, type_=error.type, errors=error.errors, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(part) for part in e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in error.errors()
        ]
        return problem_response(400, "the request's parameters are not valid", errors=errors)

    @app.exception_handler(DatabaseUnavailable)
    async def _database(request: Request, error: DatabaseUnavailable) -> JSONResponse:
        # The error's text is siteplane's own (never the driver's, which may quote the URL).
        return problem_response(503, "the application database is unavailable; try again")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else TITLES.get(error.status_code, "Error")
        return problem_response(error.status_code, detail)
