"""Users of a tenant: local users (argon2id hashes) and users of an authentication server."""

from __future__ import annotations

from typing import Any

from chalicelib.auth.passwords import hash_password
from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.errors import BadData, ErrorList, InsufficientPermissions
from chalicelib.domain.roles import ROLE_NAMES, Role, parse_role
from chalicelib.schemas.admin import UserAdd
from chalicelib.services import audit
from chalicelib.services.tenants import tenant_exists
from chalicelib.store import stores
from chalicelib.store.models import UserRecord


def create_user(caller: Caller, body: UserAdd) -> UserRecord:
    tenant_id = caller.tenant_id if body.tenant_id is None else body.tenant_id
    if tenant_id != caller.tenant_id and not caller.is_system_admin:
        raise InsufficientPermissions("Only the system administrator may create users in another tenant")
    errors = ErrorList()
    if not tenant_exists(tenant_id):
        errors.add("/body/tenant_id", f"Tenant {tenant_id} does not exist")
    role = parse_role(body.role_name)
    if role is None:
        errors.add("/body/role_name", f"Unknown role; choose one of: {', '.join(ROLE_NAMES)}")
    if tenant_id == SYSTEM_TENANT_ID and role is not Role.ADMINISTRATOR and role is not None:
        errors.add("/body/role_name", "The system tenant holds administrators only")
    doc: dict[str, Any] = {"name": body.name, "is_local": body.is_local, "role": role.value if role else None,
                           "notes": body.notes, "policy_id": None, "auth_server_id": None}
    if body.is_local:
        if not body.password:
            errors.add("/body/password", "A local user needs a password")
        if body.auth_server:
            errors.add("/body/auth_server", "A local user has no authentication server")
    else:
        if body.password:
            errors.add("/body/password", "Only local users have a password here")
        if not body.auth_server:
            errors.add("/body/auth_server", "Name the authentication server of this user")
    if body.policy_name:
        policy = _find_by_name(tenant_id, stores.policies.list(tenant_id), body.policy_name)
        if policy is None:
            errors.add("/body/policy_name", f"No policy named '{body.policy_name}'")
        else:
            doc["policy_id"] = int(policy.id)
    if body.auth_server and not body.is_local:
        server = _find_by_name(tenant_id, stores.auth_servers.list(tenant_id), body.auth_server)
        if server is None:
            errors.add("/body/auth_server", f"No authentication server named '{body.auth_server}'")
        else:
            doc["auth_server_id"] = int(server.id)
            doc["auth_server_name"] = server.name
    errors.raise_if_any("User cannot be saved, some input data is not valid.")
    password_hash = hash_password(body.password) if body.is_local and body.password else None
    record = stores.users.create(tenant_id, body.user_login, doc, password_hash)
    audit.record(tenant_id, "user.created", f"User '{body.user_login}' created", user=caller.login,
                 details={"user_id": int(record.id), "role": doc["role"]})
    return record


def _find_by_name(tenant_id: int, records: list[Any], name: str) -> Any | None:
    wanted = name.strip().casefold()
    return next((r for r in records if r.name.casefold() == wanted), None)


def list_users(caller: Caller) -> list[UserRecord]:
    return stores.users.list(caller.tenant_id)


def get_user(caller: Caller, user_id: int) -> UserRecord:
    return stores.users.get(caller.tenant_id, user_id)


def delete_user(caller: Caller, user_id: int) -> None:
    record = stores.users.get(caller.tenant_id, user_id)
    if int(record.id) == caller.user_id:
        raise BadData.field("/path/id", "You cannot delete yourself")
    stores.users.delete(record)
    audit.record(caller.tenant_id, "user.deleted", f"User '{record.login}' deleted", user=caller.login,
                 details={"user_id": user_id})


def policy_name_of(tenant_id: int, policy_id: int | None) -> str | None:
    if not policy_id:
        return None
    record = stores.policies.find(tenant_id, policy_id)
    return record.name if record else None
