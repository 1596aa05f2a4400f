"""Admin API sessions: log in with a local account, get a `sid`, use it until idle too long."""

from __future__ import annotations

import secrets

from chalicelib.auth.passwords import verify_password
from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.errors import InsufficientPermissions, InvalidCredentials, NotFound, Unauthorized
from chalicelib.domain.roles import Role, parse_role
from chalicelib.schemas.admin import SessionLogin
from chalicelib.services import audit
from chalicelib.services.tenants import tenant_id_for_domain
from chalicelib.settings import get_settings
from chalicelib.store import stores

_INVALID = "Invalid user name or password"


def login(body: SessionLogin) -> str:
    try:
        tenant_id = tenant_id_for_domain(body.domain)
    except NotFound:
        tenant_id = None
    user = stores.users.find_by_login(tenant_id, body.user_login) if tenant_id is not None else None
    is_admin_login = body.user_login.casefold() == get_settings().admin_login
    if user is None and tenant_id == SYSTEM_TENANT_ID and is_admin_login:
        user = _bootstrap_from_secret()
    # verify_password checks a dummy hash when there is no user, so both failures take as long.
    if not verify_password(user.password_hash if user else None, body.password) or user is None:
        if tenant_id is not None:
            audit.record(tenant_id, "admin.login_failed", "Admin API login failed", user=body.user_login)
        raise InvalidCredentials(_INVALID)
    role = parse_role(user.doc.get("role"))
    if role is None or not role.api_access:
        audit.record(tenant_id, "admin.login_refused", "Role has no API access", user=user.login)
        raise InsufficientPermissions("Your role does not allow access to the API")
    sid = secrets.token_urlsafe(32)
    stores.sessions.create(sid, tenant_id, int(user.id), user.login, role.value,
                           get_settings().session_idle_minutes * 60)
    audit.record(tenant_id, "admin.login", "Admin API login", user=user.login)
    return sid


def sid_from_header(authorization: str | None) -> str | None:
    """The header carries the sid raw or as `Bearer <sid>`."""
    if not authorization:
        return None
    value = authorization.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value or None


def authenticate(authorization: str | None, write: bool, system_only: bool) -> Caller:
    sid = sid_from_header(authorization)
    if sid is None:
        raise Unauthorized("Missing Authorization header with a session id")
    if len(sid) > 200:
        raise Unauthorized("Unknown or expired session")
    record = stores.sessions.find_live(sid, get_settings().session_idle_minutes * 60)
    if record is None:
        raise Unauthorized("Unknown or expired session")
    # The user as it is now (one GetItem): a deleted user's sessions end at once, and a role changed
    # since the login applies at once.
    user = stores.users.find_by_login(int(record.tenant_id), record.login)
    if user is None or int(user.id) != int(record.user_id):
        raise Unauthorized("Unknown or expired session")
    role = parse_role(user.doc.get("role"))
    if role is None or not role.api_access:
        raise InsufficientPermissions("Your role does not allow access to the API")
    if write and not role.may_write:
        raise InsufficientPermissions("Your role may only read")
    caller = Caller(tenant_id=int(record.tenant_id), user_id=int(record.user_id), login=record.login,
                    role=role.value, extra={"sid": sid})
    if system_only and not caller.is_system_admin:
        raise InsufficientPermissions("Only the system administrator may do this")
    return caller


def logout(caller: Caller) -> None:
    stores.sessions.delete(caller.extra["sid"])
    audit.record(caller.tenant_id, "admin.logout", "Admin API logout", user=caller.login)


def ensure_system_admin(password: str, login: str | None = None) -> bool:
    """Create the system administrator on first start; True when it was created now."""
    from chalicelib.auth.passwords import hash_password
    from chalicelib.domain.errors import NotUnique

    login = login or get_settings().admin_login
    if stores.users.find_by_login(SYSTEM_TENANT_ID, login) is not None:
        return False
    try:
        stores.users.create(SYSTEM_TENANT_ID, login, {"name": "System administrator", "is_local": 1,
                                                      "role": Role.ADMINISTRATOR.value, "notes": ""},
                            hash_password(password))
    except NotUnique:
        return False  # another process bootstrapped it at the same moment
    audit.record(SYSTEM_TENANT_ID, "admin.bootstrapped", f"System administrator '{login}' created")
    return True


def _bootstrap_from_secret():
    """First start in AWS: the deployment stored the administrator's initial password as a secret."""
    from chalicelib.store.secrets import secret_name

    password = stores.secrets.get(secret_name("admin-password"))
    if password is None:
        return None
    ensure_system_admin(password)
    return stores.users.find_by_login(SYSTEM_TENANT_ID, get_settings().admin_login)
