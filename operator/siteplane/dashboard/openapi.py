"""The OpenAPI document as the API really behaves, from FastAPI's own.

Two of FastAPI's defaults describe answers this API never gives: a 422 for invalid parameters (they
are answered 400, as problem details), and ``null`` as a possible value of an optional query or path
parameter (a parameter is given or left out; there is no way to send null in a URL). Both are taken
out, so clients and the schema-driven tests see what is really sent and received.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"


def tidy(document: dict[str, Any]) -> dict[str, Any]:
    for path in document.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.get("responses", {})
            schema = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") == VALIDATION_ERROR:
                del responses["422"]
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter.get("schema", {}))
    schemas = document.get("components", {}).get("schemas", {})
    if VALIDATION_ERROR.rsplit("/", 1)[1] not in str(document.get("paths")):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return document


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    choices = schema.get("anyOf")
    if not isinstance(choices, list):
        return schema
    kept = [c for c in choices if c != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(choices):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            app.openapi_schema = tidy(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
