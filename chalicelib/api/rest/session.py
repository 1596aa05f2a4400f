"""`/rest/v1/session/*` and `/rest/v1/system/health`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.schemas.admin import LogoutOut, SessionOut


router = Router("/rest/v1", "Session", schemas="chalicelib.schemas.admin")


@router.route("POST", "/session/login", access=Access.PUBLIC, summary="Log in and get a session id",
              body="SessionLogin", response="SessionOut",
              responses={401: "Invalid user name or password", 403: "Role without API access"})
def session_login(request: ApiRequest) -> SessionOut:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import sessions
    return schemas.SessionOut(sid=sessions.login(request.body))


@router.route("POST", "/session/logout", access=Access.ADMIN_READ, summary="End this session",
              response="LogoutOut")
def session_logout(request: ApiRequest) -> LogoutOut:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import sessions
    sessions.logout(request.who)
    return schemas.LogoutOut(message="Logged out")


@router.route("GET", "/system/health", access=Access.ADMIN_READ, summary="Broker component status",
              response="SystemHealth", responses={503: "A component cannot be reached"})
def system_health(request: ApiRequest) -> Reply:
    from chalicelib.services import system
    report = system.health()
    return Reply(report, status=200 if report.broker.msg == "OK" else 503)
