"""`/rest/v1/gateways`: HTML5 gateways in the reference's shape (`GatewayAdd`, `GatewayFull`) with our
fields: type, url and the write-only key (docs/gateway.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.domain.entities.gateways import Gateway
    from chalicelib.schemas.gateways import GatewayItemOut, GatewayOut, RespGatewayCreated


router = Router("/rest/v1", "Gateways", schemas="chalicelib.schemas.gateways")


def gateway_out(gateway: Gateway) -> GatewayOut:
    from chalicelib.schemas import gateways as schemas
    from chalicelib.services import gateways
    novnc = gateway.type == gateways.NOVNC
    return schemas.GatewayOut(
        id=gateway.id, name=gateway.name, address=gateway.address, address_private=gateway.address_private,
        load_balancer_id=gateway.load_balancer_id, use_src_ip=gateway.use_src_ip,
        forward_to=gateway.forward_to, signature=gateway.signature, notes=gateway.notes, type=gateway.type,
        url=gateway.url, verification_key=gateway.verification_key if novnc else None,
        key_id=gateway.key_id if novnc else None, shared_key_set=None if novnc else 1,
        allow_cleartext=gateway.allow_cleartext, created=gateway.created, updated=gateway.updated,
    )


@router.route("GET", "/gateways", access=Access.ADMIN_READ, summary="List gateways",
              response=list["GatewayItemOut"])
def list_gateways(request: ApiRequest) -> list[GatewayItemOut]:
    from chalicelib.schemas import gateways as schemas
    from chalicelib.services import gateways
    return [schemas.GatewayItemOut(id=g.id, name=g.name, type=g.type, url=g.url)
            for g in gateways.list_gateways(request.who)]


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
    gateway = gateways.update_gateway(request.who, request.ids["id"], request.body)
    return schemas.RespGatewayCreated(stored_data=gateway_out(gateway))


@router.route("DELETE", "/gateways/{id}", access=Access.ADMIN_WRITE, summary="Delete a gateway", status=204,
              responses={409: "A protocol plan uses the gateway"})
def delete_gateway(request: ApiRequest) -> Reply:
    from chalicelib.services import gateways
    gateways.delete_gateway(request.who, request.ids["id"])
    return Reply(None, status=204)
