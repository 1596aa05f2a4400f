"""End-user login and logout (`/client/v1/login`, `/client/v1/logout`).

A login: the domain picks the tenant and the authentication server; the user and the login's failure
record are read together (one BatchGetItem); a locked login is refused (429) before any password is
looked at; the password is checked (argon2id for local users, search-then-bind for LDAP and AD); the
policy is chosen (the user's own, else the first matching rule, else the tenant's default); the offer
is built; a token is issued; the login and each new assignment are audited in one write.

Every way of getting the credentials wrong (unknown domain, unknown user, wrong password, a disabled
or ambiguous directory account) gives the same 401 body, and the unknown-user path still verifies a
dummy argon2 hash so it takes as long as a wrong password. Passwords never reach a log or an audit
event. A directory that cannot be reached gives 503 and does not count as a failed login.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.domain.caller import Caller
from chalicelib.domain.entities.policies import Policy
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import (
    Conflict,
    InvalidCredentials,
    NotUnique,
    ServiceUnavailable,
    TooManyAttempts,
    Unauthorized,
)
from chalicelib.domain.policy_rules import DEFAULT_ROLE, PolicyChoice, choose_policy, no_groups
from chalicelib.services import assignment, audit, auth_servers, local_passwords, lockout, tokens
from chalicelib.services.assignment import Offer
from chalicelib.services.auth_servers import TYPE_ACTIVE_DIRECTORY, Realm
from chalicelib.services.tokens import user_enabled
from chalicelib.store import stores
from chalicelib.store.login_attempts import Slot
from chalicelib.store.repos import AuditEvent

log = logging.getLogger("broker.client_login")

INVALID_MESSAGE = "Invalid user name or password"
DIRECTORY_RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class LoginRequest:
    user_login: str
    password: str
    domain: str | None = None


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: int
    tenant_id: int
    user_id: int
    login: str
    policy_id: int | None
    offer: Offer


@dataclass(frozen=True)
class _Identity:
    user: User | None  # None: a directory user seen for the first time
    login: str  # the canonical login (lower-cased), the user record's key
    display_name: str
    matches: Any  # group -> bool


def login_key(realm: Realm, typed_login: str) -> str:
    """The name failures are counted under: trimmed, case-folded, an AD `DOMAIN\\` prefix dropped."""
    key = typed_login.strip().casefold()
    if realm.server_type == TYPE_ACTIVE_DIRECTORY and "\\" in key:
        key = key.split("\\", 1)[1]
    return key


def _realm_for(request: LoginRequest) -> Realm | None:
    if request.domain and request.domain.strip():
        return auth_servers.resolve_realm(request.domain)
    if "@" in request.user_login:
        # `alice@corp.example` without a domain: the suffix is the domain when a server holds it.
        suffix = request.user_login.rsplit("@", 1)[1].strip()
        realm = auth_servers.resolve_realm(suffix) if suffix else None
        if realm is not None and realm.server is not None:
            return realm
    return auth_servers.resolve_realm(None)


def login(request: LoginRequest) -> LoginResult:
    realm = _realm_for(request)
    if realm is None:
        local_passwords.check(None, request.password)  # as long as a wrong password takes
        log.info("client login refused: unknown domain")  # what was typed may be a password
        raise InvalidCredentials(INVALID_MESSAGE)
    tenant_id = realm.tenant_id
    key = login_key(realm, request.user_login)
    try:
        slot = lockout.attempt(tenant_id, key)
    except TooManyAttempts:
        audit.record_unauthenticated(tenant_id, "client.login_locked", "Login refused: too many failed "
                                     "attempts", user=_known_login(tenant_id, key),
                                     details={"auth_server_id": realm.server_id})
        raise
    user = stores.users.find_by_login(tenant_id, key)
    try:
        identity = _authenticate(realm, user, key, request)
    except Unauthorized as error:  # InvalidCredentials and DirectoryInvalidCredentials alike
        locked = lockout.failed(slot)
        audit.record_unauthenticated(tenant_id, "client.login_failed", "Login failed: invalid credentials",
                                     user=user.login if user is not None else None,
                                     details={"auth_server_id": realm.server_id, "locked": locked})
        raise InvalidCredentials(INVALID_MESSAGE) from error
    except Exception:  # the directory cannot be reached (503), or an outage: not a failed login
        lockout.give_back(slot)
        raise
    try:
        return _sign_in(realm, identity, slot)
    except Exception:
        lockout.give_back(slot)
        raise


def _sign_in(realm: Realm, identity: _Identity, slot: Slot) -> LoginResult:
    """The password was right: choose the policy, build the offer, issue the token."""
    tenant_id = realm.tenant_id
    rules = auth_servers.rules_of(realm.server)
    own_policy = identity.user.policy_id if identity.user else None
    choice = choose_policy(own_policy, rules, identity.matches)
    user = identity.user if identity.user is not None else _create_directory_user(realm, identity, choice)
    if realm.server is not None and realm.server_type != "local":
        user = _sync_role(user, choice)
    policy = _policy_for(tenant_id, choice)
    offer = assignment.build_offer(user, policy)
    policy_id = policy.id if policy is not None else None
    token, claims = tokens.issue(tenant_id=tenant_id, user_id=user.id, login=user.login,
                                 policy_id=policy_id, auth_server_id=realm.server_id)
    _audit_login(tenant_id, user, realm, choice, policy_id, offer, slot)
    return LoginResult(token=token, expires_at=claims.expires_at, tenant_id=tenant_id, user_id=user.id,
                       login=user.login, policy_id=policy_id, offer=offer)


def _known_login(tenant_id: int, login: str) -> str | None:
    """The login for an audit event, only if it names an existing user (else it may be a password)."""
    user = stores.users.find_by_login(tenant_id, login)
    return user.login if user is not None else None


def _authenticate(realm: Realm, user: User | None, key: str, request: LoginRequest) -> _Identity:
    if realm.server is None or realm.server_type == "local":
        local = user if user is not None and user.is_local else None
        # check() verifies a dummy hash when there is no user or hash, so every failure takes as long.
        if not local_passwords.check(local, request.password) or local is None or not user_enabled(local):
            raise InvalidCredentials(INVALID_MESSAGE)
        return _Identity(local, local.login, local.name, no_groups)

    try:
        directory_user = auth_servers.authenticate_directory(realm.server, request.user_login,
                                                             request.password)
    except ServiceUnavailable as error:  # DirectoryUnavailable, or the bind password is missing
        log.warning("client login: directory of authentication server %s unavailable: %s", realm.server_id,
                    error.message)
        raise ServiceUnavailable(_directory_trouble(realm, error.message),
                                 retry_after=DIRECTORY_RETRY_AFTER_SECONDS) from error
    canonical = directory_user.login.strip().casefold()
    record = user if canonical == key else stores.users.find_by_login(realm.tenant_id, canonical)
    if record is not None and not _belongs_to(record, realm):
        log.warning("client login refused: %r of server %s collides with a user of another origin", canonical,
                    realm.server_id)
        raise InvalidCredentials(INVALID_MESSAGE)
    if record is not None and not user_enabled(record):
        raise InvalidCredentials(INVALID_MESSAGE)
    return _Identity(record, canonical, directory_user.display_name,
                     auth_servers.directory_group_matcher(directory_user))


def _directory_trouble(realm: Realm, detail: str) -> str:
    """What an end user is told: clear, without the directory's addresses or account names (those are
    in the log and in the administrator's test of the server)."""
    domain = realm.server.domain if realm.server is not None else ""
    if "service account" in detail or "Secrets Manager" in detail:
        return (f"The directory of domain '{domain}' refused the broker's service account; "
                "ask your administrator to check the authentication server.")
    return (f"The directory (LDAP) of domain '{domain}' cannot be reached right now; "
            f"try again in {DIRECTORY_RETRY_AFTER_SECONDS} seconds.")


def _belongs_to(user: User, realm: Realm) -> bool:
    """A directory login may only be the user record of that same server (or one not yet tied to any)."""
    if user.is_local:
        return False
    return user.auth_server_id is None or int(user.auth_server_id) == realm.server_id


def _create_directory_user(realm: Realm, identity: _Identity, choice: PolicyChoice) -> User:
    """The first login of a directory user creates their record, so assignments have a user id."""
    server = realm.server
    if server is None:  # local users always have a record; nothing to create
        raise InvalidCredentials(INVALID_MESSAGE)
    new = User(tenant_id=realm.tenant_id, login=identity.login, name=identity.display_name, is_local=0,
               role=choice.role or DEFAULT_ROLE, notes="", policy_id=None, auth_server_id=int(server.id),
               auth_server_name=server.name)
    try:
        user = stores.users.create(new)
    except NotUnique:  # the same user's other login created it a moment ago
        found = stores.users.find_by_login(realm.tenant_id, identity.login)
        if found is None or not _belongs_to(found, realm):
            raise InvalidCredentials(INVALID_MESSAGE) from None
        return found
    audit.record(realm.tenant_id, "user.created", f"User '{identity.login}' created at first login",
                 user=identity.login,
                 details={"user_id": user.id, "auth_server_id": int(server.id)})
    return user


def _sync_role(user: User, choice: PolicyChoice) -> User:
    """A directory user's role follows the first matching rule (written only when it changes)."""
    if choice.role and user.role != choice.role:
        try:
            return stores.users.update(user, replace(user, role=choice.role))
        except Conflict:  # a concurrent login or an administrator wrote it; the next login settles it
            log.info("role of %r not updated this time", user.login)
            return stores.users.find_by_login(user.tenant_id, user.login) or user
    return user


def _policy_for(tenant_id: int, choice: PolicyChoice) -> Policy | None:
    if choice.policy_id:
        policy = stores.policies.find(tenant_id, choice.policy_id)
        if policy is not None:
            return policy
        log.warning("policy %s of tenant %s (from %s) is gone; using the default", choice.policy_id,
                    tenant_id, choice.source)
    return default_policy(tenant_id)


def default_policy(tenant_id: int) -> Policy | None:
    for policy in stores.policies.iterate(tenant_id):
        if policy.is_default:
            return policy
    return None


def _audit_login(tenant_id: int, user: User, realm: Realm, choice: PolicyChoice, policy_id: int | None,
                 offer: Offer, slot: Slot) -> None:
    """The login and each new assignment, written with the login's attempt slot given back (one request)."""
    offered = [d.id for d in offer.desktops]
    message = (f"Login; offered desktop(s) {', '.join(map(str, offered))}" if offered
               else f"Login; nothing offered ({offer.empty_reason})")
    events = [AuditEvent(tenant_id, "client.login", message, user=user.login, details={
        "user_id": user.id, "auth_server_id": realm.server_id, "policy_id": policy_id,
        "policy_source": choice.source, "offered": offered, "claimed": [d.id for d in offer.claimed],
        "pools_checked": offer.pools_checked})]
    events += assignment.claim_events(tenant_id, user, offer)
    audit.record_many(events, also=lambda tx: lockout.release(tx, slot))


def logout(caller: Caller) -> None:
    tokens.revoke(caller)
    audit.record(caller.tenant_id, "client.logout", "Logout", user=caller.login,
                 details={"user_id": caller.user_id})
