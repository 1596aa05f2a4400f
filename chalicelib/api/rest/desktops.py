"""`/rest/v1/desktops` (our extension)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.domain.entities.desktops import Desktop
    from chalicelib.schemas.desktops import DesktopOut, RespDesktopAction, RespDesktopUpdated


router = Router("/rest/v1", "Desktops", schemas="chalicelib.schemas.desktops")


def desktop_out(desktop: Desktop) -> DesktopOut:
    from chalicelib.schemas import desktops as schemas
    from chalicelib.services import pool_stats
    floating = list(desktop.floating_addresses)
    fixed = list(desktop.fixed_addresses)
    return schemas.DesktopOut(
        id=desktop.id,
        name=desktop.name,
        display_name=desktop.display_name or desktop.name,
        center_id=desktop.center_id,
        pool_id=desktop.pool_id,
        instance_id=desktop.instance_id,
        status=desktop.power_state.value,
        lifecycle=desktop.lifecycle.value,
        available=int(desktop.available),
        deletable=int(desktop.deletable),
        assigned_user_id=desktop.assigned_user_id,
        fixed_addresses=fixed,
        floating_addresses=floating,
        address=(floating or fixed or [None])[0],
        availability_zone=desktop.availability_zone,
        flavor=desktop.flavor,
        image=desktop.image,
        nova_status=desktop.nova_status,
        error=desktop.error or desktop.fault,
        session=dict(desktop.session) if desktop.session is not None else None,
        agent_running=int(pool_stats.agent_running(desktop)),
        registered=int(desktop.registered),
        created=desktop.created,
        updated=desktop.updated,
    )


@router.route(
    "GET",
    "/desktops",
    access=Access.ADMIN_READ,
    query="DesktopListQuery",
    summary="List desktops (filters: pool_id, center_id, status, assigned)",
    response=list["DesktopOut"],
)
def list_desktops(request: ApiRequest) -> list[DesktopOut]:
    from chalicelib.services import desktops
    return [desktop_out(d) for d in desktops.list_desktops(request.who, request.query)]


@router.route("POST", "/desktops", access=Access.ADMIN_WRITE, body="DesktopRegister",
              summary="Register a desktop by name and address in an uncategorized center",
              response="RespDesktopUpdated", status=201,
              responses={409: "The center has a desktop of this name"})
def register_desktop(request: ApiRequest) -> RespDesktopUpdated:
    from chalicelib.schemas import desktops as schemas
    from chalicelib.services import desktops
    return schemas.RespDesktopUpdated(stored_data=desktop_out(desktops.register_desktop(request.who,
                                                                                        request.body)))


@router.route("DELETE", "/desktops/{id}", access=Access.ADMIN_WRITE, status=204,
              summary="Remove a desktop registered by hand",
              responses={409: "A cloud's desktop (use the delete action), or assigned to a user"})
def unregister_desktop(request: ApiRequest) -> Reply:
    from chalicelib.services import desktops
    desktops.unregister_desktop(request.who, request.ids["id"])
    return Reply(None, status=204)


@router.route("GET", "/desktops/{id}", access=Access.ADMIN_READ, summary="Get a desktop",
              response="DesktopOut")
def get_desktop(request: ApiRequest) -> DesktopOut:
    from chalicelib.services import desktops
    return desktop_out(desktops.get_desktop(request.who, request.ids["id"]))


@router.route(
    "PUT",
    "/desktops/{id}",
    access=Access.ADMIN_WRITE,
    body_id_matches_path=True,
    summary="Change a desktop's availability, deletability or display name",
    body="DesktopUpdate",
    response="RespDesktopUpdated",
)
def update_desktop(request: ApiRequest) -> RespDesktopUpdated:
    from chalicelib.schemas import desktops as schemas
    from chalicelib.services import desktops
    return schemas.RespDesktopUpdated(
        stored_data=desktop_out(desktops.update_desktop(request.who, request.ids["id"], request.body))
    )


@router.route(
    "POST",
    "/desktops/{id}/actions",
    access=Access.ADMIN_WRITE,
    body="DesktopAction",
    summary="Start, stop, reboot, suspend, resume, release or delete a desktop (through the worker)",
    response="RespDesktopAction",
    status=202,
    responses={409: "Not possible in the desktop's state"},
)
def desktop_action(request: ApiRequest) -> RespDesktopAction:
    from chalicelib.schemas import desktops as schemas
    from chalicelib.services import desktop_actions
    action = request.body.action
    desktop_actions.request_action(request.who, request.ids["id"], action)
    done = action == "release"
    return schemas.RespDesktopAction(
        id=request.ids["id"],
        action=action,
        message="released" if done else f"{action} queued; the desktop shows the result",
    )
