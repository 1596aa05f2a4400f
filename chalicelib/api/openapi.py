"""The OpenAPI 3.1 document, built from the declared routes and their pydantic models."""

from __future__ import annotations

import typing
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.framework import OPERATIONS, Access, Operation, path_params_of
from chalicelib.schemas.common import ErrorBody

REF_TEMPLATE = "#/components/schemas/{model}"

_ERROR_STATUSES = {
    400: "Bad data: `errors` names each bad field",
    401: "Missing, unknown or expired credentials",
    403: "Insufficient permissions",
    404: "Not found (or belongs to another tenant)",
    409: "Not unique, or conflicts with the current state",
    429: "Too many attempts; see Retry-After",
    503: "A dependency is unavailable; see Retry-After",
}

_SECURITY = {
    Access.ADMIN_READ: [{"adminSession": []}],
    Access.ADMIN_WRITE: [{"adminSession": []}],
    Access.SYSTEM: [{"adminSession": []}],
    Access.CLIENT: [{"clientToken": []}],
    Access.AGENT: [{"agentToken": []}],
    Access.PUBLIC: [],
}


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model, is_list) for `Model` or `list[Model]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if typing.get_origin(annotation) is list:
        (inner,) = typing.get_args(annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner, True
    return None, False


# The reference to each model's schema, filled by `openapi_document`: pydantic names two models of the
# same class name after their modules, so a ref is never simply the class name.
_REFS: dict[type[BaseModel], dict[str, str]] = {}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return dict(_REFS[model])


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    for name, definition in schema.get("$defs", {}).items():  # enums and models a parameter refers to
        schemas.setdefault(name, definition)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(operation: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": operation.name,
        "summary": operation.summary,
        "tags": [operation.tag],
        "security": _SECURITY[operation.access],
        "responses": {},
    }
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**53 - 1},
        }
        for name in path_params_of(operation.path)
    ]
    if operation.query is not None:
        parameters += _query_parameters(operation.query, schemas)
    if parameters:
        spec["parameters"] = parameters
    if operation.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(operation.body)}},
        }
    model, is_list = _model_of(operation.response)
    success: dict[str, Any] = {"description": "Success"}
    if model is not None:
        schema = {"type": "array", "items": _ref(model)} if is_list else _ref(model)
        success["content"] = {operation.content_type: {"schema": schema}}
    elif operation.content_type != "application/json":
        success["content"] = {operation.content_type: {"schema": {"type": "string"}}}
    spec["responses"][str(operation.status)] = success
    # Bad input (a body, a query, or a request the current state refuses) is possible on every write.
    error_codes = {400} if (operation.body or operation.query or operation.method != "GET") else set()
    if operation.access is not Access.PUBLIC:
        error_codes |= {401, 403}
    if path_params_of(operation.path):
        error_codes.add(404)
    if operation.method in ("POST", "PUT", "DELETE") and operation.access is not Access.PUBLIC:
        error_codes |= {409, 503}
    error_codes |= set(operation.responses)
    for code in sorted(error_codes):
        if str(code) in spec["responses"]:
            continue
        description = operation.responses.get(code, _ERROR_STATUSES.get(code, "Error"))
        spec["responses"][str(code)] = {
            "description": description,
            "content": {"application/json": {"schema": _ref(ErrorBody)}},
        }
    return spec


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorBody}
    for operation in OPERATIONS:
        for candidate in (operation.body, operation.query):
            if candidate is not None:
                models.add(candidate)
        model, _ = _model_of(operation.response)
        if model is not None:
            models.add(model)
    ordered = sorted(models, key=lambda m: (m.__name__, m.__module__))
    keys = [(m, "validation" if _is_request_model(m) else "serialization") for m in ordered]
    generated, top = models_json_schema(keys, ref_template=REF_TEMPLATE)
    _REFS.clear()
    _REFS.update({model: generated[(model, mode)] for model, mode in keys})
    schemas = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "VDI connection broker",
            "version": "1.0.0",
            "description": "Admin API in the shapes of the Leostream REST API v1 (/rest/v1), the end-user "
            "client API (/client/v1) and the desktop agent API (/agent/v1).",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "adminSession": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "The sid of POST /rest/v1/session/login, raw or as 'Bearer <sid>'",
                },
                "clientToken": {"type": "http", "scheme": "bearer"},
                "agentToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def _is_request_model(model: type[BaseModel]) -> bool:
    return any(model in (op.body, op.query) for op in OPERATIONS)
