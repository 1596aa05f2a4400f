"""The admin API's authenticator: the `sid` of `POST /rest/v1/session/login`."""

from __future__ import annotations

from chalicelib.api.framework import Access, register_authenticator
from chalicelib.domain.caller import Caller
from chalicelib.lazy import lazy_module

sessions = lazy_module("chalicelib.services.sessions")


def _authenticate_admin(authorization: str | None, access: Access) -> Caller:
    return sessions.authenticate(
        authorization,
        write=access in (Access.ADMIN_WRITE, Access.SYSTEM),
        system_only=access is Access.SYSTEM,
    )


register_authenticator((Access.ADMIN_READ, Access.ADMIN_WRITE, Access.SYSTEM), _authenticate_admin)
