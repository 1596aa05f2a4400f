"""Every HTTP router, in the order they are registered."""

from __future__ import annotations

from chalicelib.api.agent import routes as agent_routes
from chalicelib.api.client import routes as client_routes
from chalicelib.api.framework import Router
from chalicelib.api.rest import (
    auth_servers,
    centers,
    desktops,
    gateways,
    lifecycle,
    meta,
    plans,
    policies,
    pools,
    session,
    tenants,
)

ROUTERS: tuple[Router, ...] = (
    session.router,
    tenants.router,
    centers.router,
    pools.router,
    policies.router,
    desktops.router,
    auth_servers.router,
    plans.router,
    gateways.router,
    client_routes.router,
    lifecycle.router,
    agent_routes.router,
    meta.router,
)
