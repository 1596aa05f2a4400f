"""`/rest/v1/tenants` (our extension) and `/rest/v1/users`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.schemas.admin import (
        RespTenantCreated,
        RespUserCreated,
        TenantItemOut,
        TenantOut,
        UserItemOut,
        UserOut,
    )
    from chalicelib.store.models import TenantRecord, UserRecord


router = Router("/rest/v1", "Tenants and users", schemas="chalicelib.schemas.admin")


def tenant_out(record: TenantRecord) -> TenantOut:
    from chalicelib.schemas import admin as schemas
    return schemas.TenantOut(id=int(record.id), name=record.name, notes=record.doc.get("notes", ""),
                             login_domains=list(record.doc.get("login_domains") or []),
                             listed_at_login=int(record.doc.get("listed_at_login") or 0),
                             time_zone=record.doc.get("time_zone") or "",
                             created=record.created, updated=record.updated)


@router.route("POST", "/tenants", access=Access.SYSTEM, summary="Create a tenant", body="TenantBody",
              response="RespTenantCreated", status=201)
def create_tenant(request: ApiRequest) -> RespTenantCreated:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import tenants
    return schemas.RespTenantCreated(stored_data=tenant_out(tenants.create_tenant(request.who, request.body)))


@router.route("GET", "/tenants", access=Access.SYSTEM, summary="List tenants", response=list["TenantItemOut"])
def list_tenants(request: ApiRequest) -> list[TenantItemOut]:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import tenants
    return [schemas.TenantItemOut(id=int(r.id), name=r.name) for r in tenants.list_tenants(request.who)]


@router.route("GET", "/tenants/{id}", access=Access.SYSTEM, summary="Get a tenant", response="TenantOut")
def get_tenant(request: ApiRequest) -> TenantOut:
    from chalicelib.services import tenants
    return tenant_out(tenants.get_tenant(request.who, request.ids["id"]))


@router.route("PUT", "/tenants/{id}", access=Access.SYSTEM,
              summary="Change a tenant's notes or the login domains granted to it", body="TenantUpdate",
              response="TenantOut")
def update_tenant(request: ApiRequest) -> TenantOut:
    from chalicelib.services import tenants
    return tenant_out(tenants.update_tenant(request.who, request.ids["id"], request.body))


def user_out(record: UserRecord) -> UserOut:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import users
    doc = record.doc
    return schemas.UserOut(
        id=int(record.id),
        tenant_id=int(record.tenant_id),
        user_login=record.login,
        name=doc.get("name", record.login),
        is_local=int(doc.get("is_local", 1)),
        enabled=int(doc.get("enabled", 1)),
        role_name=doc.get("role") or "User",
        policy_id=doc.get("policy_id"),
        policy_name=users.policy_name_of(int(record.tenant_id), doc.get("policy_id")),
        auth_server=doc.get("auth_server_name"),
        notes=doc.get("notes", ""),
        created=record.created,
        updated=record.updated,
    )


@router.route("POST", "/users", access=Access.ADMIN_WRITE, summary="Add a user (reference UserAdd)",
              body="UserAdd", response="RespUserCreated", status=201)
def create_user(request: ApiRequest) -> RespUserCreated:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import users
    record = users.create_user(request.who, request.body)
    return schemas.RespUserCreated(stored_data={"id": int(record.id)})


@router.route("GET", "/users", access=Access.ADMIN_READ, summary="List the tenant's users",
              response=list["UserItemOut"])
def list_users(request: ApiRequest) -> list[UserItemOut]:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import users
    return [schemas.UserItemOut(id=int(r.id), user_login=r.login, name=r.doc.get("name", r.login),
                        role_name=r.doc.get("role") or "User", is_local=int(r.doc.get("is_local", 1)))
            for r in users.list_users(request.who)]


@router.route("GET", "/users/{id}", access=Access.ADMIN_READ, summary="Get a user", response="UserOut")
def get_user(request: ApiRequest) -> UserOut:
    from chalicelib.services import users
    return user_out(users.get_user(request.who, request.ids["id"]))


@router.route("PUT", "/users/{id}", access=Access.ADMIN_WRITE,
              summary="Change a user's name, password, role, policy or whether it is enabled",
              body="UserUpdate", response="UserOut")
def update_user(request: ApiRequest) -> UserOut:
    from chalicelib.services import users
    return user_out(users.update_user(request.who, request.ids["id"], request.body))


@router.route("DELETE", "/users/{id}", access=Access.ADMIN_WRITE,
              summary="Delete a user: its sessions and tokens end, its desktops are released", status=204)
def delete_user(request: ApiRequest) -> Reply:
    from chalicelib.services import users
    users.delete_user(request.who, request.ids["id"])
    return Reply(None, status=204)
