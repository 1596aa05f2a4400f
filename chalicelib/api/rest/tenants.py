"""`/rest/v1/tenants` (our extension) and `/rest/v1/users`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.api.framework import Access, ApiRequest, Reply, Router

if TYPE_CHECKING:
    from chalicelib.domain.entities.tenants import Tenant
    from chalicelib.domain.entities.users import User
    from chalicelib.schemas.admin import (
        RespTenantCreated,
        RespUserCreated,
        TenantItemOut,
        TenantOut,
        UserItemOut,
        UserOut,
    )


router = Router("/rest/v1", "Tenants and users", schemas="chalicelib.schemas.admin")


def tenant_out(tenant: Tenant) -> TenantOut:
    from chalicelib.schemas import admin as schemas
    return schemas.TenantOut(id=tenant.id, name=tenant.name, notes=tenant.notes,
                             login_domains=list(tenant.login_domains), listed_at_login=tenant.listed_at_login,
                             time_zone=tenant.time_zone, created=tenant.created, updated=tenant.updated)


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
    return [schemas.TenantItemOut(id=t.id, name=t.name) for t in tenants.list_tenants(request.who)]


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


def user_out(user: User) -> UserOut:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import users
    return schemas.UserOut(
        id=user.id,
        tenant_id=user.tenant_id,
        user_login=user.login,
        name=user.name,
        is_local=user.is_local,
        enabled=user.enabled,
        role_name=user.role,
        policy_id=user.policy_id,
        policy_name=users.policy_name_of(user.tenant_id, user.policy_id),
        auth_server=user.auth_server_name,
        notes=user.notes,
        created=user.created,
        updated=user.updated,
    )


@router.route("POST", "/users", access=Access.ADMIN_WRITE, summary="Add a user (reference UserAdd)",
              body="UserAdd", response="RespUserCreated", status=201)
def create_user(request: ApiRequest) -> RespUserCreated:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import users
    user = users.create_user(request.who, request.body)
    return schemas.RespUserCreated(stored_data={"id": user.id})


@router.route("GET", "/users", access=Access.ADMIN_READ, summary="List the tenant's users",
              response=list["UserItemOut"])
def list_users(request: ApiRequest) -> list[UserItemOut]:
    from chalicelib.schemas import admin as schemas
    from chalicelib.services import users
    return [schemas.UserItemOut(id=u.id, user_login=u.login, name=u.name, role_name=u.role,
                                is_local=u.is_local)
            for u in users.list_users(request.who)]


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
