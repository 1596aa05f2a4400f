"""Every HTTP router, in the order they are registered."""

from __future__ import annotations

from chalicelib.api import admin_auth  # noqa: F401 - registers the admin authenticator
from chalicelib.api.framework import Router
from chalicelib.api.rest import centers, desktops, meta, policies, pools, session, tenants

ROUTERS: tuple[Router, ...] = (
    session.router,
    tenants.router,
    centers.router,
    pools.router,
    policies.router,
    desktops.router,
    meta.router,
)
