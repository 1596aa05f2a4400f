"""The thin HTTP layer: every route is declared once here with its models and access rule.

A declared route is registered on its Chalice blueprint and recorded in `OPERATIONS`, from which
`openapi.py` builds the OpenAPI document, so the document cannot drift from the routes.
Models are named by string (`body="PoolBody"`, `response=list["PoolItemOut"]`) and looked up in the
router's schema module (named by string, imported on first use): importing the HTTP handler builds no pydantic
class (cold start).
Handlers receive an `ApiRequest` with the caller and the validated body, query and path ids, and
return a pydantic model (or a `Reply`). Every `BrokerError` becomes the Leostream error body.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import GenericAlias
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib.domain.caller import Caller
from chalicelib.domain.errors import (
    BadData,
    BrokerError,
    FieldError,
    NotFound,
    NotUnique,
    ServiceUnavailable,
    TooManyAttempts,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

log = logging.getLogger("broker.api")

MAX_ID = 2**53 - 1  # ids are JSON-safe integers


class Access(StrEnum):
    PUBLIC = "public"
    ADMIN_READ = "admin-read"  # any role with API access
    ADMIN_WRITE = "admin-write"  # a role that may change things
    SYSTEM = "system"  # the system administrator only
    CLIENT = "client"  # an end user's bearer token
    AGENT = "agent"  # a desktop agent's token


@dataclass
class ApiRequest:
    caller: Caller | None
    body: Any
    query: Any
    ids: dict[str, int]
    headers: dict[str, str]
    source_ip: str | None

    @property
    def who(self) -> Caller:
        assert self.caller is not None
        return self.caller


@dataclass
class Reply:
    """A reply with a status or headers of its own; `body` is a model, a dict/list, bytes or str."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


# A model, or the name of one in the router's schema module; `list[...]` of either for a list response.
ModelRef = Any


@dataclass
class Operation:
    method: str
    path: str
    name: str
    summary: str
    tag: str
    access: Access
    schemas: str | None  # the name of the module the model names are looked up in (imported on first use)
    body_ref: ModelRef
    query_ref: ModelRef
    response_ref: ModelRef
    status: int
    responses: dict[int, str]
    content_type: str = "application/json"
    body_id_matches_path: bool = False  # an `id` in the body, if given, must be the path's `{id}`

    def _resolve(self, ref: ModelRef) -> Any:
        if isinstance(ref, str):
            if self.schemas is None:
                raise LookupError(f"{self.method} {self.path}: model {ref!r} named without a schema module")
            return getattr(importlib.import_module(self.schemas), ref)
        if isinstance(ref, GenericAlias):
            return ref.__origin__[tuple(self._resolve(arg) for arg in ref.__args__)]
        return ref

    @functools.cached_property
    def body(self) -> type[BaseModel] | None:
        return self._resolve(self.body_ref)  # type: ignore[no-any-return]

    @functools.cached_property
    def query(self) -> type[BaseModel] | None:
        return self._resolve(self.query_ref)  # type: ignore[no-any-return]

    @functools.cached_property
    def response(self) -> Any:
        return self._resolve(self.response_ref)


OPERATIONS: list[Operation] = []

# Who may call a route of each access kind: the token in the Authorization header -> the Caller, or an
# error. One explicit table (not registered by whichever module happens to be imported): a Router works
# the same whether or not `api/routes.py` was imported. Each imports its service on first use, so that
# declaring routes loads no service (cold start).
Authenticator = Callable[[str | None, Access], Caller]


def authenticate_admin(authorization: str | None, access: Access) -> Caller:
    """The `sid` of `POST /rest/v1/session/login`."""
    from chalicelib.services import sessions

    return sessions.authenticate(
        authorization,
        write=access in (Access.ADMIN_WRITE, Access.SYSTEM),
        system_only=access is Access.SYSTEM,
    )


def authenticate_client(authorization: str | None, access: Access) -> Caller:
    """The bearer token of `POST /client/v1/login`."""
    from chalicelib.services import tokens

    return tokens.authenticate(authorization)


def authenticate_agent(authorization: str | None, access: Access) -> Caller:
    """The agent token of `POST /agent/v1/register`."""
    from chalicelib.services import agents

    return agents.authenticate(authorization)


AUTHENTICATORS: dict[Access, Authenticator] = {
    Access.ADMIN_READ: authenticate_admin,
    Access.ADMIN_WRITE: authenticate_admin,
    Access.SYSTEM: authenticate_admin,
    Access.CLIENT: authenticate_client,
    Access.AGENT: authenticate_agent,
}


ERROR_HTTP_STATUS = {
    "BAD_DATA": 400,
    "UNAUTHORIZED": 401,
    "INVALID_CREDENTIALS": 401,
    "INSUFFICIENT_PERMISSIONS": 403,
    "NOT_FOUND": 404,
    "NOT_UNIQUE": 409,
    "CONFLICT": 409,
    "TOO_MANY_ATTEMPTS": 429,
    "LOGIN_BUSY": 429,
    "SERVICE_UNAVAILABLE": 503,
}

_PATH_PARAM = re.compile(r"{(\w+)}")


def error_body(error: BrokerError) -> dict[str, Any]:
    body: dict[str, Any] = {"error_status": error.status, "error_message": error.message}
    field_errors: list[FieldError] = list(getattr(error, "errors", []) or [])
    if field_errors:
        body["errors"] = [{"path": f.path, "message": f.message} for f in field_errors]
    if isinstance(error, NotUnique):
        body["items"] = [error.field]
    return body


def error_response(error: BrokerError) -> Response:
    headers = {"Content-Type": "application/json"}
    retry_after = getattr(error, "retry_after", None)
    if isinstance(error, TooManyAttempts | ServiceUnavailable) and retry_after:
        headers["Retry-After"] = str(int(retry_after))
    return Response(body=json.dumps(error_body(error)), status_code=ERROR_HTTP_STATUS.get(error.status, 400),
                    headers=headers)


# Request bodies (docs/decisions.md, "Request body limits"). The largest body the models accept in
# practice is a few tens of KiB (an authentication server with a CA certificate and its rules); the
# limit stays below DynamoDB's 400 KB item, so no accepted string can make a record too large to save.
MAX_BODY_BYTES = 256 * 1024
# The deepest body a model reads is about 6 levels (pool -> provision -> center -> ...); DynamoDB
# refuses documents nested deeper than 32.
MAX_JSON_DEPTH = 32
# Members of one JSON object: no model has more than about 50 fields or map entries. Without a limit,
# a body of 20,000 unknown keys costs a second of validation and a megabyte of errors. (Long arrays
# need none: a list's length is checked before its items, and the error names the field.)
MAX_OBJECT_MEMBERS = 1000
# Digits of a JSON integer: more than any field takes (DynamoDB's numbers hold 38), far fewer than the
# 4,300 beyond which Python refuses to convert a string to an int.
MAX_INTEGER_DIGITS = 38


class OutOfRangeNumber:
    """A JSON number no field can hold (`1e999999`, a 100-digit integer): kept in place of the value,
    so that validation names the field it was sent in; no model accepts it as any type."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"OutOfRangeNumber({self.text[:20]})"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(text: str) -> int | OutOfRangeNumber:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        return OutOfRangeNumber(text)
    return int(text)


def _parse_float(text: str) -> float | OutOfRangeNumber:
    value = float(text)
    return value if math.isfinite(value) else OutOfRangeNumber(text)


def _shape_problem(value: Any) -> FieldError | None:
    """The first place where arrays and objects nest deeper than MAX_JSON_DEPTH, or an object has more
    than MAX_OBJECT_MEMBERS members (iterative: the check itself cannot run out of stack)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "/body")]
    while stack:
        item, depth, pointer = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return FieldError("/body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            if len(item) > MAX_OBJECT_MEMBERS:
                return FieldError(pointer, f"An object of more than {MAX_OBJECT_MEMBERS} members")
            children: Any = item.items()
        else:
            children = enumerate(item)
        stack.extend(
            (child, depth + 1, f"{pointer}/{_pointer_segment(key)}")
            for key, child in children
            if isinstance(child, dict | list)
        )
    return None


def _pointer_segment(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")  # RFC 6901


def parse_json(raw: bytes | None) -> Any:
    """The request body as JSON, or BAD_DATA naming /body: never an error of another kind, whatever
    the bytes (too large, nested without end, not UTF-8, not JSON)."""
    if raw is None or not raw.strip():
        raise BadData.field("/body", "A JSON object is required")
    if len(raw) > MAX_BODY_BYTES:
        raise BadData.field("/body", f"The body is larger than {MAX_BODY_BYTES // 1024} KiB")
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_int=_parse_int,
                           parse_float=_parse_float)
    except RecursionError as error:  # the parser's own guard, about 1,000 levels down
        raise BadData.field("/body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise BadData.field("/body", f"Malformed JSON: {error}") from error
    # Cheap first: fewer brackets cannot nest deeper than the limit, fewer colons cannot make an object
    # wider than it (a typical body skips the walk).
    nested = raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH
    if isinstance(value, dict | list) and (nested or raw.count(b":") > MAX_OBJECT_MEMBERS):
        problem = _shape_problem(value)
        if problem is not None:
            raise BadData(f"{problem.path}: {problem.message}", [problem])
    return value


def _parse_ids(params: dict[str, str] | None) -> dict[str, int]:
    ids: dict[str, int] = {}
    for name, raw in (params or {}).items():
        # An id that is not a positive integer names nothing: the record is simply not found.
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 16 or not 0 < int(raw) <= MAX_ID:
            raise NotFound(f"No record with {name} '{raw[:40]}'")
        ids[name] = int(raw)
    return ids


def _serialise(body: Any) -> Any:
    from pydantic import BaseModel  # imported by then: the handler built the model

    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", exclude_none=True)
    if isinstance(body, list):
        return [_serialise(item) for item in body]
    return body


def _to_response(result: Any, operation: Operation) -> Response:
    reply = result if isinstance(result, Reply) else Reply(result, operation.status)
    headers = {"Content-Type": operation.content_type, **reply.headers}
    if reply.status == 204 or reply.body is None:
        return Response(body="", status_code=reply.status, headers={k: v for k, v in headers.items()
                                                                    if k != "Content-Type"})
    if isinstance(reply.body, bytes | str) and operation.content_type != "application/json":
        return Response(body=reply.body, status_code=reply.status, headers=headers)
    return Response(body=json.dumps(_serialise(reply.body)), status_code=reply.status, headers=headers)


def _validate(model: type[BaseModel], data: Any, where: str) -> Any:
    # pydantic's validation and our error mapping load with the first route that has a model.
    from pydantic import ValidationError

    from chalicelib.schemas.validation import pydantic_errors

    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise pydantic_errors(error, where) from error


def _check_body_id(body: Any, path_id: int) -> None:
    """An update may repeat the record's id in its body (the reference's shapes do); a different one is
    refused, naming the field, rather than ignored."""
    body_id = getattr(body, "id", None)
    if body_id is not None and body_id != path_id:
        raise BadData.field("/body/id", "does not match the id in the path")


class Router:
    """A Chalice blueprint whose routes are declared with their models and access rule."""

    def __init__(self, prefix: str, tag: str, schemas: str | None = None) -> None:
        self.blueprint = Blueprint(f"{__name__}.{tag}")
        self.prefix = prefix
        self.tag = tag
        self.schemas = schemas

    def route(
        self,
        method: str,
        path: str,
        *,
        access: Access,
        summary: str,
        body: ModelRef = None,
        query: ModelRef = None,
        response: ModelRef = None,
        status: int = 200,
        responses: dict[int, str] | None = None,
        content_type: str = "application/json",
        body_id_matches_path: bool = False,
    ) -> Callable[[Callable[[ApiRequest], Any]], Callable[[ApiRequest], Any]]:
        def decorator(handler: Callable[[ApiRequest], Any]) -> Callable[[ApiRequest], Any]:
            operation = Operation(
                method=method.upper(),
                path=self.prefix + path,
                name=handler.__name__,
                summary=summary,
                tag=self.tag,
                access=access,
                schemas=self.schemas,
                body_ref=body,
                query_ref=query,
                response_ref=response,
                status=status,
                responses=responses or {},
                content_type=content_type,
                body_id_matches_path=body_id_matches_path,
            )
            OPERATIONS.append(operation)

            @functools.wraps(handler)
            def view(**path_params: str) -> Response:
                return self._dispatch(operation, handler, path_params)

            # Any content type: the body is parsed as JSON whatever the header says, so a client that
            # sends no or another type gets our own 400 naming /body, not Chalice's bare 415.
            self.blueprint.route(path, methods=[operation.method], content_types=["*/*"])(view)
            return handler

        return decorator

    def _dispatch(self, operation: Operation, handler: Callable[[ApiRequest], Any],
                  path_params: dict[str, str]) -> Response:
        started = time.perf_counter()
        request = self.blueprint.current_request
        caller: Caller | None = None
        try:
            headers = {k.lower(): v for k, v in (request.headers or {}).items()}
            if operation.access is not Access.PUBLIC:
                caller = AUTHENTICATORS[operation.access](headers.get("authorization"), operation.access)
            ids = _parse_ids(path_params)
            body_value = None
            if operation.body is not None:
                body_value = _validate(operation.body, parse_json(request.raw_body), "body")
                if operation.body_id_matches_path:
                    _check_body_id(body_value, ids["id"])
            query_value = None
            if operation.query is not None:
                query_value = _validate(operation.query, dict(request.query_params or {}), "query")
            source_ip = ((request.context or {}).get("identity") or {}).get("sourceIp")
            result = handler(ApiRequest(caller, body_value, query_value, ids, headers, source_ip))
            response = _to_response(result, operation)
        except BrokerError as error:
            response = error_response(error)
        except Exception:  # a bug: log it with its trace, answer without details
            log.exception("unhandled error in %s %s", operation.method, operation.path)
            response = Response(
                body=json.dumps({"error_status": "INTERNAL_ERROR", "error_message": "Internal error"}),
                status_code=500,
                headers={"Content-Type": "application/json"},
            )
        log.info(
            "request",
            extra={
                "method": operation.method,
                "route": operation.path,
                "status": response.status_code,
                "tenant_id": caller.tenant_id if caller else None,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response


def path_params_of(path: str) -> list[str]:
    return _PATH_PARAM.findall(path)
