"""`/rest/v1/gateways`: HTML5 gateways in the reference's shape (`GatewayAdd`, `GatewayFull`) with our
fields: type, url and the write-only key (docs/gateway.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.schemas.gateways import GatewayItemOut, GatewayOut, RespGatewayCreated
    from chalicelib.store.models import GatewayRecord


router = Router("/rest/v1", "Gateways", schemas="chalicelib.schemas.gateways")


def gateway_out(record: GatewayRecord) -> GatewayOut:
    from chalicelib.schemas import gateways as schemas
    from chalicelib.services import gateways
    doc = record.doc
    novnc = doc["type"] == gateways.NOVNC
    return schemas.GatewayOut(
        id=int(record.id), name=record.name, address=doc["address"],
        address_private=doc.get("address_private", ""),
        load_balancer_id=int(doc.get("load_balancer_id") or 0),
        use_src_ip=int(doc.get("use_src_ip") or 0), forward_to=doc.get("forward_to", ""),
        signature=doc.get("signature", ""), notes=doc.get("notes", ""), type=doc["type"], url=doc["url"],
        verification_key=doc.get("verification_key") if novnc else None,
        key_id=doc.get("key_id") if novnc else None, shared_key_set=None if novnc else 1,
        allow_cleartext=int(doc.get(gateways.CLEARTEXT_FLAG) or 0), created=record.created,
        updated=record.updated,
    )


@router.route("GET", "/gateways", access=Access.ADMIN_READ, summary="List gateways",
              response=list["GatewayItemOut"])
def list_gateways(request: ApiRequest) -> list[GatewayItemOut]:
    from chalicelib.schemas import gateways as schemas
    from chalicelib.services import gateways
    return [schemas.GatewayItemOut(id=int(r.id), name=r.name, type=r.doc["type"], url=r.doc["url"])
            for r in gateways.list_gateways(request.who)]


@router.route("POST", "/gateways", access=Access.ADMIN_WRITE, summary="Add a gateway", body="GatewayBody",
              response="RespGatewayCreated", status=201)
def create_gateway(request: ApiRequest) -> RespGatewayCreated:
    from chalicelib.schemas import gateways as schemas
    from chalicelib.services import gateways
    return schemas.RespGatewayCreated(stored_data=gateway_out(gateways.create_gateway(request.who,
                                                                                      request.body)))


@router.route("GET", "/gateways/{id}", access=Access.ADMIN_READ, summary="Get a gateway",
              response="GatewayOut")
def get_gateway(request: ApiRequest) -> GatewayOut:
    from chalicelib.services import gateways
    return gateway_out(gateways.get_gateway(request.who, request.ids["id"]))


@router.route("PUT", "/gateways/{id}", access=Access.ADMIN_WRITE, body_id_matches_path=True,
              summary="Update a gateway (fields not given keep their values)", body="GatewayUpdate",
              response="RespGatewayCreated")
def update_gateway(request: ApiRequest) -> RespGatewayCreated:
    from chalicelib.schemas import gateways as schemas
    from chalicelib.services import gateways
    record = gateways.update_gateway(request.who, request.ids["id"], request.body)
    return schemas.RespGatewayCreated(stored_data=gateway_out(record))


@router.route("DELETE", "/gateways/{id}", access=Access.ADMIN_WRITE, summary="Delete a gateway", status=204,
              responses={409: "A protocol plan uses the gateway"})
def delete_gateway(request: ApiRequest) -> Reply:
    from chalicelib.services import gateways
    gateways.delete_gateway(request.who, request.ids["id"])
    return Reply(None, status=204)
