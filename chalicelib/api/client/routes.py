"""`/client/v1/*`: what an end user's client calls. Handlers parse, call one service, shape the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router
from chalicelib.domain.connection import RDP_CONTENT_TYPE

if TYPE_CHECKING:
    from chalicelib.schemas.client import (
        ClientDesktopOut,
        ClientDesktopsOut,
        ClientLogin,
        ClientMessageOut,
    )
    from chalicelib.services.assignment import Offer, OfferedDesktop


router = Router("/client/v1", "Client", schemas="chalicelib.schemas.client")


def desktop_out(desktop: OfferedDesktop) -> ClientDesktopOut:
    from chalicelib.schemas import client as schemas
    return schemas.ClientDesktopOut(id=desktop.id, name=desktop.name, pool_id=desktop.facts.pool_id,
                            status=desktop.status, protocol=desktop.plan.protocol, address=desktop.address,
                            port=desktop.plan.port, kiosk=True if desktop.kiosk else None,
                            can_release=desktop.can_release)


def offer_headers(offer: Offer) -> dict[str, str]:
    headers = {"Cache-Control": "no-store"}
    if offer.retry_after:
        headers["Retry-After"] = str(offer.retry_after)
    return headers


@router.route("GET", "/domains", access=Access.PUBLIC, summary="The login domains listed on the sign-in page",
              response="ClientDomainsOut")
def listed_domains(request: ApiRequest) -> Reply:
    from chalicelib.schemas import client as schemas
    from chalicelib.services import tenants
    reply = schemas.ClientDomainsOut(domains=tenants.listed_login_names())
    return Reply(reply, headers={"Cache-Control": "max-age=60"})


@router.route("POST", "/login", access=Access.PUBLIC, summary="Log in and get the offered desktops",
              body="ClientLogin", response="ClientLoginOut",
              responses={401: "Invalid user name or password",
                         429: "Too many failed logins, or too many at once (Retry-After)",
                         503: "The directory cannot be reached"})
def client_login_route(request: ApiRequest) -> Reply:
    from chalicelib.schemas import client as schemas
    from chalicelib.services import client_login
    body: ClientLogin = request.body
    result = client_login.login(client_login.LoginRequest(body.user_login, body.password, body.domain))
    offer = result.offer
    reply = schemas.ClientLoginOut(token=result.token, expires_at=result.expires_at,
                           desktops=[desktop_out(d) for d in offer.desktops], message=offer.message,
                           retry_after=offer.retry_after)
    return Reply(reply, headers=offer_headers(offer))


@router.route("POST", "/offer", access=Access.CLIENT, response="ClientOfferOut",
              summary="Offer desktops again, as at login (for a user signed in while none was available)")
def offer_again(request: ApiRequest) -> Reply:
    from chalicelib.schemas import client as schemas
    from chalicelib.services import assignment
    offer = assignment.offer_again(request.who)
    reply = schemas.ClientOfferOut(desktops=[desktop_out(d) for d in offer.desktops], message=offer.message,
                                   retry_after=offer.retry_after)
    return Reply(reply, headers=offer_headers(offer))


@router.route("GET", "/desktops", access=Access.CLIENT, summary="The desktops assigned to me",
              response="ClientDesktopsOut")
def list_my_desktops(request: ApiRequest) -> ClientDesktopsOut:
    from chalicelib.schemas import client as schemas
    from chalicelib.services import assignment
    desktops = [desktop_out(d) for d in assignment.current_desktops(request.who)]
    return schemas.ClientDesktopsOut(desktops=desktops)


@router.route("POST", "/desktops/{id}/connect", access=Access.CLIENT, content_type=RDP_CONTENT_TYPE,
              summary="Connection details: a .rdp file for RDP, host and port (JSON) for VNC and SSH, a URL "
                      "for HTML5", response="ClientConnectionOut",
              responses={404: "Not one of my desktops", 409: "The desktop is not available now",
                         503: "The plan's HTML5 gateway is missing or its key cannot be read"})
def connect_desktop(request: ApiRequest) -> Reply:
    from chalicelib.schemas import client as schemas
    from chalicelib.services import assignment
    details = assignment.connect(request.who, request.ids["id"])
    headers = {"Cache-Control": "no-store"}
    if details.rdp_file is not None:
        headers["Content-Disposition"] = f'attachment; filename="{details.rdp_filename}"'
        return Reply(details.rdp_file, headers=headers)
    body = schemas.ClientConnectionOut(id=details.desktop_id, name=details.desktop_name,
                                       protocol=details.protocol, host=details.host, port=details.port,
                                       username=details.username,
                                       url=details.url, url_expires_at=details.url_expires_at,
                                       options=details.options)
    headers["Content-Type"] = "application/json"  # the route's type is the .rdp file's
    return Reply(body.model_dump_json(exclude_none=True), headers=headers)


@router.route("POST", "/desktops/{id}/release", access=Access.CLIENT, summary="Give a desktop back",
              response="ClientMessageOut", responses={403: "The policy does not let users release it",
                                                      404: "Not one of my desktops"})
def release_desktop(request: ApiRequest) -> ClientMessageOut:
    from chalicelib.schemas import client as schemas
    from chalicelib.services import assignment
    record = assignment.release(request.who, request.ids["id"])
    return schemas.ClientMessageOut(message=f"Desktop '{record.name}' released")


@router.route("POST", "/logout", access=Access.CLIENT, summary="End this session (the token stops working)",
              response="ClientMessageOut")
def client_logout(request: ApiRequest) -> ClientMessageOut:
    from chalicelib.schemas import client as schemas
    from chalicelib.services import client_login
    client_login.logout(request.who)
    return schemas.ClientMessageOut(message="Logged out")
