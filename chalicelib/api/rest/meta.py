"""`GET /rest/v1/openapi.json`: the document of every route of every prefix."""

from __future__ import annotations

from typing import Any

from chalicelib.api.framework import Access, ApiRequest, Router

router = Router("/rest/v1", "Meta")


@router.route("GET", "/openapi.json", access=Access.PUBLIC, summary="This API's OpenAPI 3.1 document")
def openapi_json(request: ApiRequest) -> dict[str, Any]:
    from chalicelib.api.openapi import openapi_document

    return openapi_document()
