"""pydantic's validation errors in the reference's error shape."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from chalicelib.domain.errors import BadData, FieldError

# pydantic names the member of a union it tried in the error location: 'int', 'bool', 'constrained-int',
# 'function-after[...]', "literal['a','b']", or a model's class name. Our field names are snake_case.
_TYPE_TAGS = frozenset({"int", "str", "bool", "float", "list", "dict", "set", "tuple", "none", "bytes",
                        "decimal"})
_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# Errors that only say "this member of the union has another JSON type": when a member of the same union
# failed for a better reason (a bound, a format), that reason is the one to report.
_TYPE_ERROR = re.compile(r"^(int|bool|string|float|list|dict|model|model_attributes|tuple|set|bytes|none)_"
                         r"(type|parsing|required)$|^int_from_float$")
_MESSAGES = {
    "missing": "Field is required",
    "extra_forbidden": "Unknown field",
    "model_type": "Input should be a JSON object",
    "model_attributes_type": "Input should be a JSON object",
    "dict_type": "Input should be a JSON object",
    "list_type": "Input should be a JSON array",
}
_PREFIXES = ("Value error, ", "Assertion failed, ")


def pydantic_errors(error: ValidationError, where: str) -> BadData:
    """Translate pydantic's errors into the reference's `errors[{path, message}]` (`/body/a/b`).

    Each bad field is named once: the members of a union that all failed are merged into one item."""
    by_path: dict[str, list[tuple[str, str]]] = {}
    for problem in error.errors(include_url=False, include_context=False, include_input=False):
        path = _path(problem["loc"], problem["type"], where)
        by_path.setdefault(path, []).append((problem["type"], _message(problem)))
    items = [FieldError(path, _merge(problems)) for path, problems in by_path.items()]
    summary = "; ".join(f"{item.path}: {item.message}" for item in items[:5])
    return BadData(f"Invalid input data: {summary}", items)


def _path(loc: tuple[Any, ...], error_type: str, where: str) -> str:
    parts = list(loc)
    keep_last = error_type == "extra_forbidden" and bool(parts)  # the unknown key, whatever it looks like
    last = parts.pop() if keep_last else None
    location = [_escape(str(part)) for part in parts if not _is_union_tag(part)]
    if keep_last:
        location.append(_escape(str(last)))
    return "/".join([f"/{where}", *location])


def _escape(part: str) -> str:
    """A JSON Pointer segment (RFC 6901): a key with '/' or '~' cannot be mistaken for two."""
    return part.replace("~", "~0").replace("/", "~1")


def _message(problem: dict[str, Any]) -> str:
    if problem["type"] in _MESSAGES:
        return _MESSAGES[problem["type"]]
    message = str(problem["msg"])
    for prefix in _PREFIXES:
        if message.startswith(prefix):
            message = message[len(prefix):]
            return message[:1].upper() + message[1:]
    return message


def _merge(problems: list[tuple[str, str]]) -> str:
    if len(problems) > 1:
        specific = [p for p in problems if not _TYPE_ERROR.match(p[0])]
        if specific:
            problems = specific
    messages = list(dict.fromkeys(message for _, message in problems))
    lead = "Input should be "
    if len(messages) > 1 and all(m.startswith(lead) for m in messages):
        return lead + " or ".join(m[len(lead):] for m in messages)
    return "; ".join(messages)


def _is_union_tag(part: Any) -> bool:
    # A list index is an int; a field name is snake_case; anything else is pydantic naming a union member.
    return isinstance(part, str) and (part in _TYPE_TAGS or not _FIELD_NAME.fullmatch(part))
