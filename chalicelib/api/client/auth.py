"""The client API's authenticator: the bearer token of `POST /client/v1/login`."""

from __future__ import annotations

from chalicelib.api.framework import Access, register_authenticator
from chalicelib.domain.caller import Caller
from chalicelib.lazy import lazy_module

tokens = lazy_module("chalicelib.services.tokens")


def _authenticate_client(authorization: str | None, access: Access) -> Caller:
    return tokens.authenticate(authorization)


register_authenticator((Access.CLIENT,), _authenticate_client)
