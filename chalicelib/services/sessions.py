"""Admin API sessions: log in with a local account, get a `sid`, use it until idle too long or too old.

The login shares its attempt slots with the end users' login (chalicelib/services/lockout.py): one
failure state per (tenant, login), so neither login is a password oracle while the other is locked.
Every refusal reads the same (401 "Invalid user name or password"), including the right password of a
user whose role has no API access or whose account is disabled, and counts as a failure.
"""

from __future__ import annotations

import secrets

from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import (
    InsufficientPermissions,
    InvalidCredentials,
    NotFound,
    TooManyAttempts,
    Unauthorized,
)
from chalicelib.domain.login_names import canonical
from chalicelib.domain.roles import Role, parse_role
from chalicelib.schemas.admin import SessionLogin
from chalicelib.services import audit, local_passwords, lockout
from chalicelib.services.tenants import tenant_id_for_domain
from chalicelib.services.tokens import user_accepts
from chalicelib.settings import get_settings
from chalicelib.store import stores
from chalicelib.store.repos import AuditEvent
from chalicelib.store.transactions import Transaction

_INVALID = "Invalid user name or password"


def login(body: SessionLogin) -> str:
    try:
        tenant_id = tenant_id_for_domain(body.domain)
    except NotFound:
        local_passwords.check(None, body.password)  # as long as a wrong password takes
        raise InvalidCredentials(_INVALID) from None
    key = canonical(body.user_login)
    try:
        slot = lockout.attempt(tenant_id, key)
    except TooManyAttempts:
        audit.record_unauthenticated(tenant_id, "admin.login_locked", "Admin API login refused: too many "
                                     "failed attempts", user=_known(tenant_id, key))
        raise
    user = stores.users.find_by_login(tenant_id, key)
    if user is None and tenant_id == SYSTEM_TENANT_ID and key == canonical(get_settings().admin_login):
        user = _bootstrap_from_secret()
    role = parse_role(user.role) if user is not None else None
    if (not local_passwords.check(user, body.password) or user is None or role is None
            or not role.api_access or not user.enabled):
        locked = lockout.failed(slot)
        audit.record_unauthenticated(tenant_id, "admin.login_failed", "Admin API login failed",
                                     user=user.login if user is not None else None,
                                     details={"locked": locked})
        raise InvalidCredentials(_INVALID)
    sid = secrets.token_urlsafe(32)
    stores.sessions.create(sid, tenant_id, user.id, user.login, role.value,
                           get_settings().session_idle_minutes * 60)

    def give_slot_back(tx: Transaction) -> None:
        lockout.release(tx, slot)

    audit.record_many([AuditEvent(tenant_id, "admin.login", "Admin API login", user=user.login)],
                      also=give_slot_back)
    return sid


def _known(tenant_id: int, login: str) -> str | None:
    """The login for an audit event, only if it names an existing user (else it may be a password)."""
    user = stores.users.find_by_login(tenant_id, login)
    return user.login if user is not None else None


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
    settings = get_settings()
    record = stores.sessions.find_live(sid, settings.session_idle_minutes * 60,
                                       settings.session_max_hours * 3600)
    if record is None:
        raise Unauthorized("Unknown or expired session")
    # The user as it is now (one GetItem): a deleted or disabled user's sessions end at once, so do
    # sessions older than a password change, and a role changed since the login applies at once.
    user = stores.users.find_by_login(int(record.tenant_id), record.login)
    if not user_accepts(user, int(record.user_id), int(record.created or record.last_seen)):
        raise Unauthorized("Unknown or expired session")
    assert user is not None
    role = parse_role(user.role)
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
        stores.users.create(User(tenant_id=SYSTEM_TENANT_ID, login=login, name="System administrator",
                                 is_local=1, role=Role.ADMINISTRATOR.value, notes="",
                                 password_hash=hash_password(password)))
    except NotUnique:
        return False  # another process bootstrapped it at the same moment
    audit.record(SYSTEM_TENANT_ID, "admin.bootstrapped", f"System administrator '{login}' created")
    return True


def _bootstrap_from_secret() -> User | None:
    """First start in AWS: the deployment stored the administrator's initial password as a secret."""
    from chalicelib.store.secrets import secret_name

    password = stores.secrets.get(secret_name("admin-password"))
    if password is None:
        return None
    ensure_system_admin(password)
    return stores.users.find_by_login(SYSTEM_TENANT_ID, get_settings().admin_login)
