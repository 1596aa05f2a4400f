"""`/rest/v1/centers`: OpenStack and VHI projects. The password is write-only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router
from chalicelib.domain.kinds import CENTER_TYPE_LABELS, UNCATEGORIZED, UNCATEGORIZED_LABEL, center_type_label

if TYPE_CHECKING:
    from chalicelib.domain.entities.centers import Center
    from chalicelib.schemas.centers import CenterItemOut, CenterOut, RespCenterCreated, RespCenterScan


router = Router("/rest/v1", "Centers", schemas="chalicelib.schemas.centers")

# The reference's CenterPropertyFlavor: K = OpenStack (VHI is OpenStack underneath), U = uncategorized.
CENTER_FLAVOR = "K"
FLAVORS = {UNCATEGORIZED: "U"}


def center_item(center: Center) -> CenterItemOut:
    from chalicelib.schemas import centers as schemas
    from chalicelib.services import centers
    status = centers.status_of(center)
    return schemas.CenterItemOut(
        id=center.id,
        name=center.name,
        type=center.type,
        type_label=center_type_label(center.type),
        flavor=FLAVORS.get(center.type, CENTER_FLAVOR),
        online=int(status.online),
        status=status.code,
        status_label=status.label,
    )


def center_out(center: Center, short: bool = False) -> CenterOut:
    from chalicelib.schemas import centers as schemas
    from chalicelib.services import centers
    item = center_item(center)
    inventory = {} if short else (center.inventory or {})
    return schemas.CenterOut(
        **item.model_dump(),
        active=int(center.active),
        center_definition=schemas.CenterDefinitionOut(**centers.definition_of(center)),
        center_info=schemas.CenterInfoOut.model_validate(inventory),
        last_checked=center.last_checked,
        last_scan=center.last_scan,
        created=center.created,
        updated=center.updated,
    )


@router.route("GET", "/centers", access=Access.ADMIN_READ, summary="List centers",
              response=list["CenterItemOut"])
def list_centers(request: ApiRequest) -> list[CenterItemOut]:
    from chalicelib.services import centers
    return [center_item(c) for c in centers.list_centers(request.who)]


@router.route("GET", "/centers/{id}", access=Access.ADMIN_READ, query="CenterGetQuery",
              summary="Get a center with its status and inventory", response="CenterOut")
def get_center(request: ApiRequest) -> CenterOut:
    from chalicelib.services import centers
    return center_out(centers.get_center(request.who, request.ids["id"]), short=bool(request.query.short))


@router.route("DELETE", "/centers/{id}", access=Access.ADMIN_WRITE, summary="Delete a center", status=204,
              responses={409: "A pool uses this center"})
def delete_center(request: ApiRequest) -> Reply:
    from chalicelib.services import centers
    centers.delete_center(request.who, request.ids["id"])
    return Reply(None, status=204)


@router.route("POST", "/centers/{id}/scan", access=Access.ADMIN_WRITE, summary="Queue a scan of the center",
              response="RespCenterScan", status=202)
def scan_center(request: ApiRequest) -> RespCenterScan:
    from chalicelib.schemas import centers as schemas
    from chalicelib.services import centers
    center, job_id = centers.request_scan(request.who, request.ids["id"])
    message = f'A job to scan the "{center.name}" center was successfully submitted'
    return schemas.RespCenterScan(is_scanning=1, job_id=job_id, message=message)


def _create(center_type: str):
    def handler(request: ApiRequest) -> RespCenterCreated:
        from chalicelib.schemas import centers as schemas
        from chalicelib.services import centers
        center = centers.create_center(request.who, center_type, request.body)
        return schemas.RespCenterCreated(stored_data=center_out(center))

    handler.__name__ = f"create_{center_type}_center"
    return handler


def _update(center_type: str):
    def handler(request: ApiRequest) -> RespCenterCreated:
        from chalicelib.schemas import centers as schemas
        from chalicelib.services import centers
        center = centers.update_center(request.who, center_type, request.ids["id"], request.body)
        return schemas.RespCenterCreated(stored_data=center_out(center))

    handler.__name__ = f"update_{center_type}_center"
    return handler


@router.route("POST", f"/centers/{UNCATEGORIZED}", access=Access.ADMIN_WRITE,
              summary=f"Add a center of {UNCATEGORIZED_LABEL} (registered by hand; never scanned)",
              body="UncategorizedCenterCreate", response="RespCenterCreated", status=201)
def create_uncategorized_center(request: ApiRequest) -> RespCenterCreated:
    from chalicelib.schemas import centers as schemas
    from chalicelib.services import centers
    return schemas.RespCenterCreated(stored_data=center_out(centers.create_uncategorized(request.who,
                                                                                        request.body)))


@router.route("PUT", f"/centers/{UNCATEGORIZED}/{{id}}", access=Access.ADMIN_WRITE, body_id_matches_path=True,
              summary=f"Update a center of {UNCATEGORIZED_LABEL}", body="UncategorizedCenterUpdate",
              response="RespCenterCreated")
def update_uncategorized_center(request: ApiRequest) -> RespCenterCreated:
    from chalicelib.schemas import centers as schemas
    from chalicelib.services import centers
    center = centers.update_uncategorized(request.who, request.ids["id"], request.body)
    return schemas.RespCenterCreated(stored_data=center_out(center))


for _type, _label in CENTER_TYPE_LABELS.items():
    router.route("POST", f"/centers/{_type}", access=Access.ADMIN_WRITE, summary=f"Add a {_label} center",
                 body="CenterCreate", response="RespCenterCreated", status=201)(_create(_type))
    router.route("PUT", f"/centers/{_type}/{{id}}", access=Access.ADMIN_WRITE, body_id_matches_path=True,
                 summary=f"Update a {_label} center (fields not given keep their values)",
                 body="CenterUpdate", response="RespCenterCreated")(_update(_type))
