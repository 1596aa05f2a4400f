"""The agent API's authenticator: the agent token of `POST /agent/v1/register`."""

from __future__ import annotations

from chalicelib.api.framework import Access, register_authenticator
from chalicelib.domain.caller import Caller
from chalicelib.lazy import lazy_module

agents = lazy_module("chalicelib.services.agents")


def _authenticate_agent(authorization: str | None, access: Access) -> Caller:
    return agents.authenticate(authorization)


register_authenticator((Access.AGENT,), _authenticate_agent)
