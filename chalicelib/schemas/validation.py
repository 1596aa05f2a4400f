"""pydantic's validation errors in the reference's error shape."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chalicelib.domain.errors import BadData, FieldError


def pydantic_errors(error: ValidationError, where: str) -> BadData:
    """Translate pydantic's errors into the reference's `errors[{path, message}]` (`/body/a/b`)."""
    items: list[FieldError] = []
    for problem in error.errors(include_url=False, include_context=False, include_input=False):
        location = [str(part) for part in problem["loc"] if not _is_union_tag(part)]
        path = "/".join([f"/{where}", *location]) if location else f"/{where}"
        message = problem["msg"]
        if problem["type"] == "missing":
            message = "Field is required"
        elif problem["type"] == "extra_forbidden":
            message = "Unknown field"
        items.append(FieldError(path, message))
    summary = "; ".join(f"{item.path}: {item.message}" for item in items[:5])
    return BadData(f"Invalid input data: {summary}", items)


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the chosen union member to the location (e.g. 'int', 'function-after[...]').
    return isinstance(part, str) and ("[" in part or part in {"int", "str", "bool", "float", "list", "dict"})
