"""`/rest/v1/auth-servers`: local, LDAP and Active Directory servers with their login domain and
assignment rules. The bind password is write-only (`bind_password_set` says whether one is stored)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.domain.entities.auth_servers import AuthServer
    from chalicelib.schemas.auth_servers import (
        AuthServerItemOut,
        AuthServerOut,
        AuthServerTestOut,
        RespAuthServerCreated,
    )


router = Router("/rest/v1", "Authentication servers", schemas="chalicelib.schemas.auth_servers")


def auth_server_out(server: AuthServer) -> AuthServerOut:
    from chalicelib.schemas import auth_servers as schemas
    return schemas.AuthServerOut(
        id=server.id,
        name=server.name,
        type=server.type,
        domain=server.domain,
        urls=list(server.urls),
        start_tls=server.start_tls,
        bind_dn=server.bind_dn,
        bind_password_set=int(server.is_directory),
        search_base=server.search_base,
        login_attribute=server.login_attribute,
        group_membership=server.group_membership,
        group_search_base=server.group_search_base,
        group_member_attribute=server.group_member_attribute,
        connect_timeout_seconds=server.connect_timeout_seconds,
        receive_timeout_seconds=server.receive_timeout_seconds,
        verify_tls=server.verify_tls,
        ca_certificate_pem=server.ca_certificate_pem,
        allow_cleartext_password=server.allow_cleartext_password,
        rules=[schemas.AssignmentRuleOut(group=r.get("group"), any_user=int(r.get("any_user") or 0),
                                 policy_id=int(r["policy_id"]), role_name=r.get("role_name") or "User")
               for r in server.rules],
        notes=server.notes,
        created=server.created,
        updated=server.updated,
    )


@router.route("GET", "/auth-servers", access=Access.ADMIN_READ, summary="List authentication servers",
              response=list["AuthServerItemOut"])
def list_auth_servers(request: ApiRequest) -> list[AuthServerItemOut]:
    from chalicelib.schemas import auth_servers as schemas
    from chalicelib.services import auth_servers
    return [schemas.AuthServerItemOut(id=server.id, name=server.name, type=server.type, domain=server.domain)
            for server in auth_servers.list_servers(request.who)]


@router.route("POST", "/auth-servers", access=Access.ADMIN_WRITE, summary="Add an authentication server",
              body="AuthServerBody", response="RespAuthServerCreated", status=201,
              responses={409: "The name or the login domain is taken"})
def create_auth_server(request: ApiRequest) -> RespAuthServerCreated:
    from chalicelib.schemas import auth_servers as schemas
    from chalicelib.services import auth_servers
    return schemas.RespAuthServerCreated(stored_data=auth_server_out(auth_servers.create_server(request.who,
                                                                                        request.body)))


@router.route("GET", "/auth-servers/{id}", access=Access.ADMIN_READ, summary="Get an authentication server",
              response="AuthServerOut")
def get_auth_server(request: ApiRequest) -> AuthServerOut:
    from chalicelib.services import auth_servers
    return auth_server_out(auth_servers.get_server(request.who, request.ids["id"]))


@router.route("PUT", "/auth-servers/{id}", access=Access.ADMIN_WRITE, body_id_matches_path=True,
              summary="Update an authentication server (fields not given keep their values)",
              body="AuthServerUpdate", response="RespAuthServerCreated",
              responses={409: "The name or the login domain is taken"})
def update_auth_server(request: ApiRequest) -> RespAuthServerCreated:
    from chalicelib.schemas import auth_servers as schemas
    from chalicelib.services import auth_servers
    server = auth_servers.update_server(request.who, request.ids["id"], request.body)
    return schemas.RespAuthServerCreated(stored_data=auth_server_out(server))


@router.route("DELETE", "/auth-servers/{id}", access=Access.ADMIN_WRITE,
              summary="Delete an authentication server", status=204)
def delete_auth_server(request: ApiRequest) -> Reply:
    from chalicelib.services import auth_servers
    auth_servers.delete_server(request.who, request.ids["id"])
    return Reply(None, status=204)


@router.route("POST", "/auth-servers/{id}/test", access=Access.ADMIN_WRITE,
              summary="Bind with the service account and read the search base", response="AuthServerTestOut",
              responses={503: "The directory cannot be reached or refused the service account"})
def test_auth_server(request: ApiRequest) -> AuthServerTestOut:
    from chalicelib.schemas import auth_servers as schemas
    from chalicelib.services import auth_servers
    message = auth_servers.test_server(request.who, request.ids["id"])
    return schemas.AuthServerTestOut(reachable=1, message=message)
