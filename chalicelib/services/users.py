"""Users of a tenant: local users (argon2id hashes) and users of an authentication server."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib import clock
from chalicelib.auth.passwords import hash_password
from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import BadData, Conflict, ErrorList, InsufficientPermissions
from chalicelib.domain.roles import ROLE_NAMES, Role, parse_role
from chalicelib.schemas.admin import UserAdd, UserUpdate
from chalicelib.services import assignment, audit, local_passwords
from chalicelib.services.tenants import tenant_exists
from chalicelib.store import stores

DELETE_ROUNDS = 3  # a login racing the deletion can claim once more; it is refused after that


def create_user(caller: Caller, body: UserAdd) -> User:
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
    settings: dict[str, Any] = {}
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
            settings["policy_id"] = int(policy.id)
    if body.auth_server and not body.is_local:
        server = _find_by_name(tenant_id, stores.auth_servers.list(tenant_id), body.auth_server)
        if server is None:
            errors.add("/body/auth_server", f"No authentication server named '{body.auth_server}'")
        else:
            settings["auth_server_id"] = int(server.id)
            settings["auth_server_name"] = server.name
    errors.raise_if_any("User cannot be saved, some input data is not valid.")
    assert role is not None
    password_hash = hash_password(body.password) if body.is_local and body.password else None
    user = stores.users.create(User(tenant_id=tenant_id, login=body.user_login, name=body.name,
                                    is_local=body.is_local, role=role.value, notes=body.notes,
                                    password_hash=password_hash, **settings))
    audit.record(tenant_id, "user.created", f"User '{body.user_login}' created", user=caller.login,
                 details={"user_id": user.id, "role": user.role})
    return user


def _find_by_name(tenant_id: int, records: list[Any], name: str) -> Any | None:
    wanted = name.strip().casefold()
    return next((r for r in records if r.name.casefold() == wanted), None)


def list_users(caller: Caller) -> list[User]:
    return stores.users.list(caller.tenant_id)


def get_user(caller: Caller, user_id: int) -> User:
    return stores.users.get(caller.tenant_id, user_id)


def update_user(caller: Caller, user_id: int, body: UserUpdate) -> User:
    user = stores.users.get(caller.tenant_id, user_id)
    changes = body.model_dump(exclude_unset=True)
    errors = ErrorList()
    settings: dict[str, Any] = {}
    is_self = user.id == caller.user_id
    if "name" in changes:
        settings["name"] = body.name
    if "notes" in changes:
        settings["notes"] = body.notes
    if body.role_name is not None:
        role = parse_role(body.role_name)
        if role is None:
            errors.add("/body/role_name", f"Unknown role; choose one of: {', '.join(ROLE_NAMES)}")
        elif caller.tenant_id == SYSTEM_TENANT_ID and role is not Role.ADMINISTRATOR:
            errors.add("/body/role_name", "The system tenant holds administrators only")
        elif is_self and role.value != user.role:
            errors.add("/body/role_name", "You cannot change your own role")
        else:
            settings["role"] = role.value
    if "policy_name" in changes:
        if body.policy_name is None:
            settings["policy_id"] = None
        else:
            policy = _find_by_name(caller.tenant_id, stores.policies.list(caller.tenant_id), body.policy_name)
            if policy is None:
                errors.add("/body/policy_name", f"No policy named '{body.policy_name}'")
            else:
                settings["policy_id"] = int(policy.id)
    if body.enabled is not None:
        if is_self and not body.enabled:
            errors.add("/body/enabled", "You cannot disable yourself")
        settings["enabled"] = int(body.enabled)
    password_hash = _new_password_hash(user, body, is_self, errors)
    if body.current_password is not None and body.password is None:
        errors.add("/body/current_password", "Only needed to change your own password")
    errors.raise_if_any("User cannot be saved, some input data is not valid.")
    ends_sessions = password_hash is not None or (body.enabled is not None and not body.enabled)
    if password_hash is not None:
        settings["password_hash"] = password_hash
    if ends_sessions:
        settings["tokens_after"] = _now_and_after()
    user = stores.users.update(user, replace(user, **settings))
    fields = sorted(k for k in changes if k != "current_password")
    audit.record(caller.tenant_id, "user.updated", f"User '{user.login}' updated", user=caller.login,
                 details={"user_id": user_id, "fields": fields})
    return user


def _new_password_hash(user: User, body: UserUpdate, is_self: bool, errors: ErrorList) -> str | None:
    if body.password is None:
        return None
    if not user.is_local:
        errors.add("/body/password", "Only local users have a password here; this user's is in the directory")
        return None
    if is_self and not local_passwords.check(user, body.current_password or ""):
        # the caller's session alone must not be enough to take over the account for good
        errors.add("/body/current_password", "Give your current password to change it")
        return None
    return hash_password(body.password)


def _now_and_after() -> int:
    """Tokens and sessions issued before this (whole) second are refused from now on."""
    return int(clock.time()) + 1


def delete_user(caller: Caller, user_id: int) -> None:
    """The user's sessions and tokens end at once (it is disabled first), its desktops are released
    through their pools' release rules, then the record goes."""
    user = stores.users.get(caller.tenant_id, user_id)
    if user.id == caller.user_id:
        raise BadData.field("/path/id", "You cannot delete yourself")
    user = stores.users.update(user, replace(user, enabled=0, tokens_after=_now_and_after()))
    released: list[int] = []
    for _ in range(DELETE_ROUNDS):
        holdings = assignment.release_everything(user)
        released += holdings
        if stores.users.delete_if_holding_nothing(user):
            break
        user = stores.users.get(caller.tenant_id, user_id)  # a login claimed meanwhile: once more
    else:
        raise Conflict(f"User {user_id} keeps being assigned desktops; try again")
    audit.record(caller.tenant_id, "user.deleted", f"User '{user.login}' deleted", user=caller.login,
                 details={"user_id": user_id, "released_desktops": released})


def policy_name_of(tenant_id: int, policy_id: int | None) -> str | None:
    if not policy_id:
        return None
    record = stores.policies.find(tenant_id, policy_id)
    return record.name if record else None
