"""Authentication servers: local users, LDAP and Active Directory, each with its login domain and its
assignment rules (group or "any user" -> policy and role, in order).

A login domain names one server across all tenants: it is reserved in the names table when the server
is saved (NOT_UNIQUE if another server holds it, or if it is another tenant's name), so the domain a
user types picks the server and the tenant, and servers of different tenants never trust each other.
A tenant's name is the login domain of its local users. The bind password lives in Secrets Manager
under `<prefix>auth-server/<tenant>/<id>` and is never returned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.endpoints import CLEARTEXT_FLAG, Transport, sends_in_clear, why_secret_needed_again
from chalicelib.domain.entities.auth_servers import TYPE_ACTIVE_DIRECTORY, TYPE_LDAP, TYPE_LOCAL, AuthServer
from chalicelib.domain.errors import BadData, BrokerError, ErrorList, ServiceUnavailable
from chalicelib.domain.login_names import SYSTEM_LOGIN_NAME, canonical, domain_problem
from chalicelib.domain.policy_rules import AssignmentRule
from chalicelib.domain.roles import ROLE_NAMES, parse_role
from chalicelib.schemas.auth_servers import AuthServerBody, AuthServerUpdate
from chalicelib.services import audit
from chalicelib.services.client_cache import TtlCache
from chalicelib.store import stores
from chalicelib.store.login_names import LoginName, LoginNames, label
from chalicelib.store.secrets import secret_name
from chalicelib.store.transactions import Transaction

if TYPE_CHECKING:
    from chalicelib.auth.ldap import DirectorySettings, DirectoryUser

log = logging.getLogger("broker.auth_servers")

DEFAULT_LOGIN_ATTRIBUTE = {TYPE_LDAP: "uid", TYPE_ACTIVE_DIRECTORY: "sAMAccountName"}

_login_names = LoginNames()
_domain_cache: TtlCache[LoginName] = TtlCache("login-names")
_server_cache: TtlCache[AuthServer] = TtlCache("auth-servers")
_password_cache: TtlCache[str] = TtlCache("auth-server-passwords")


def server_secret_name(tenant_id: int, server_id: int) -> str:
    return secret_name("auth-server", tenant_id, server_id)


# ------------------------------------------------------------------------------------------- admin API


def list_servers(caller: Caller) -> list[AuthServer]:
    return stores.auth_servers.list(caller.tenant_id)


def get_server(caller: Caller, server_id: int) -> AuthServer:
    return stores.auth_servers.get(caller.tenant_id, server_id)


def _domain_refusals(domain: str) -> dict[str, BrokerError]:
    """A tenant can only serve a login name it owns; which other tenant owns a name (if any) is not
    said, so a tenant administrator cannot enumerate the MSP's other customers."""
    return {label(domain): BadData.field(
        "/body/domain",
        f"'{domain}' is not a free login domain of this tenant: use the tenant's name or a domain the "
        "system administrator granted it (PUT /rest/v1/tenants/{id}) that no other server of the tenant "
        "uses")}


def create_server(caller: Caller, body: AuthServerBody) -> AuthServer:
    server = AuthServer(tenant_id=caller.tenant_id, name=body.name,
                        **body.model_dump(exclude={"name", "bind_password"}))
    server = _validated(caller, _normalised(server), body.bind_password, password_stored=False)
    domain = server.domain

    def bind(tx: Transaction, created: AuthServer) -> None:
        _login_names.bind(tx, domain, caller.tenant_id, created.id)

    server = stores.auth_servers.create(server, also=bind, refusals=_domain_refusals(domain))
    if server.is_directory:
        try:
            stores.secrets.put(server_secret_name(caller.tenant_id, server.id), body.bind_password or "")
        except ServiceUnavailable:
            _delete_server(server)  # no directory server without its bind password
            raise
    _forget(caller.tenant_id, server.id, domain)
    audit.record(caller.tenant_id, "auth_server.created", f"Authentication server '{server.name}' created",
                 user=caller.login, details={"auth_server_id": server.id, "type": server.type,
                                             "domain": domain, **_cleartext_details(server)})
    return server


def update_server(caller: Caller, server_id: int, body: AuthServerUpdate) -> AuthServer:
    before = stores.auth_servers.get(caller.tenant_id, server_id)
    changes = body.model_dump(exclude_unset=True, exclude={"id", "name", "bind_password"})
    after = _normalised(replace(before, name=body.name or before.name, **changes),
                        changed_type="type" in changes)
    password_stored = before.is_directory
    after = _validated(caller, after, body.bind_password, password_stored=password_stored, previous=before)
    old_domain, new_domain = before.domain, after.domain
    domain_moved = canonical(old_domain) != canonical(new_domain)

    def move_domain(tx: Transaction, _server: AuthServer) -> None:
        if domain_moved:
            _login_names.unbind(tx, old_domain, caller.tenant_id, server_id)
            _login_names.bind(tx, new_domain, caller.tenant_id, server_id)

    secret = server_secret_name(caller.tenant_id, server_id)
    if after.is_directory and body.bind_password is not None:
        # Before the settings: if Secrets Manager fails, the old password never meets the new URLs.
        stores.secrets.put(secret, body.bind_password)
    server = stores.auth_servers.update(before, after, also=move_domain,
                                        refusals=_domain_refusals(new_domain))
    if not server.is_directory and password_stored:
        stores.secrets.delete(secret)
    _forget(caller.tenant_id, server_id, old_domain, new_domain)
    fields_changed = sorted({*changes, *(["bind_password"] if body.bind_password is not None else [])})
    audit.record(caller.tenant_id, "auth_server.updated", f"Authentication server '{server.name}' updated",
                 user=caller.login, details={"auth_server_id": server_id, "fields": fields_changed,
                                             **_cleartext_details(server)})
    return server


def delete_server(caller: Caller, server_id: int) -> None:
    """Users of the server stay (an administrator may move them); they cannot log in through it."""
    server = stores.auth_servers.get(caller.tenant_id, server_id)
    _delete_server(server)
    if server.is_directory:
        stores.secrets.delete(server_secret_name(caller.tenant_id, server_id))
    _forget(caller.tenant_id, server_id, server.domain)
    audit.record(caller.tenant_id, "auth_server.deleted", f"Authentication server '{server.name}' deleted",
                 user=caller.login, details={"auth_server_id": server_id})


def _delete_server(server: AuthServer) -> None:
    """Delete the server and free its login domain in one transaction."""
    def unbind(tx: Transaction, _server: AuthServer) -> None:
        _login_names.unbind(tx, server.domain, server.tenant_id, server.id)

    stores.auth_servers.delete(server, also=unbind)


def test_server(caller: Caller, server_id: int) -> str:
    """Bind with the service account and read the search base; DirectoryUnavailable (503) if not."""
    server = stores.auth_servers.get(caller.tenant_id, server_id)
    if not server.is_directory:
        return "Local users need no directory"
    from chalicelib.auth.ldap import check_connection

    check_connection(directory_settings(server, refresh_password=True))
    return "The directory answered and accepted the service account"


_NO_DIRECTORY = AuthServer(tenant_id=0, name="")  # the directory settings' defaults


def _normalised(server: AuthServer, changed_type: bool = False) -> AuthServer:
    """The domain trimmed; a local server without directory settings (their defaults); a directory
    server with its type's login attribute unless one was chosen (a type changed with the old type's
    usual attribute takes the new type's)."""
    server = replace(server, domain=server.domain.strip())
    if server.type == TYPE_LOCAL:
        return replace(server, **{name: getattr(_NO_DIRECTORY, name) for name in AuthServer.DIRECTORY_FIELDS})
    if not server.login_attribute or (changed_type and server.login_attribute
                                      in DEFAULT_LOGIN_ATTRIBUTE.values()):
        return replace(server, login_attribute=DEFAULT_LOGIN_ATTRIBUTE[server.type])
    return server


def _validated(caller: Caller, server: AuthServer, password: str | None, password_stored: bool,
               previous: AuthServer | None = None) -> AuthServer:
    """Every problem of the server's settings at once; the server with its rules' role names canonical.
    `previous`: the server an update starts from (a bind password stored for it goes nowhere new without
    being given again)."""
    errors = ErrorList()
    problem = domain_problem(server.domain)
    if problem:
        errors.add("/body/domain", problem)
    if server.is_directory:
        if not server.urls:
            errors.add("/body/urls", "Give at least one ldap:// or ldaps:// URL")
        if not server.bind_dn:
            errors.add("/body/bind_dn", "Give the DN of the service account the broker searches with")
        if password is None and not password_stored:
            errors.add("/body/bind_password", "Give the service account's password")
        if not server.search_base:
            errors.add("/body/search_base", "Give the DN under which users are searched")
        if not errors.errors:
            _check_directory_settings(server, password or "placeholder", errors)
        _check_cleartext(server, errors)
        if password is None and previous is not None and previous.is_directory:
            _require_password_for_new_recipient(previous, server, errors)
    for index, rule in enumerate(server.rules):
        if parse_role(rule.get("role_name")) is None:
            errors.add(f"/body/rules/{index}/role_name",
                       f"Unknown role; choose one of: {', '.join(ROLE_NAMES)}")
        if server.type == TYPE_LOCAL and rule.get("group"):
            errors.add(f"/body/rules/{index}/group", "Local users have no groups; use any_user = 1")
    wanted = [int(rule["policy_id"]) for rule in server.rules]
    found = stores.policies.batch_get(caller.tenant_id, wanted) if wanted else {}
    for index, policy_id in enumerate(wanted):
        if policy_id not in found:
            errors.add(f"/body/rules/{index}/policy_id", f"Policy {policy_id} does not exist")
    errors.raise_if_any("Authentication server cannot be saved, some input data is not valid.")
    return replace(server, rules=[{**rule, "role_name": _canonical_role(rule.get("role_name"))}
                                  for rule in server.rules])


def _canonical_role(name: Any) -> Any:
    role = parse_role(name)
    return role.value if role else name


def _check_cleartext(server: AuthServer, errors: ErrorList) -> None:
    if server.allow_cleartext_password:
        return
    for index, url in enumerate(server.urls):
        if _url_in_clear(server, url):
            errors.add(f"/body/urls/{index}", f"ldap:// without StartTLS sends passwords in clear; use "
                                              f"ldaps://, set start_tls = 1, or set {CLEARTEXT_FLAG} = 1")


def _url_in_clear(server: AuthServer, url: str) -> bool:
    return sends_in_clear(url, start_tls=bool(server.start_tls))


def _sends_in_clear(server: AuthServer) -> bool:
    return server.is_directory and any(_url_in_clear(server, url) for url in server.urls)


def _cleartext_details(server: AuthServer) -> dict[str, int]:
    return {CLEARTEXT_FLAG: server.allow_cleartext_password} if server.is_directory else {}


def _require_password_for_new_recipient(before: AuthServer, after: AuthServer, errors: ErrorList) -> None:
    """The stored bind password goes only where it was given for (chalicelib/domain/endpoints.py)."""
    reason = why_secret_needed_again(before.urls, after.urls, [before.bind_dn], [after.bind_dn],
                                     _transport(before), _transport(after))
    if reason:
        errors.add("/body/bind_password", f"Give the bind password again: {reason}")


def _transport(server: AuthServer) -> Transport:
    return Transport(start_tls=bool(server.start_tls), verify_tls=bool(server.verify_tls),
                     ca_certificate_pem=server.ca_certificate_pem)


def _check_directory_settings(server: AuthServer, password: str, errors: ErrorList) -> None:
    try:
        _settings_from(server, password)
    except BadData as error:
        for problem in error.errors:
            path = problem.path if problem.path.startswith("/") else f"/body/{problem.path.replace('.', '/')}"
            errors.add(path, problem.message)


def rules_of(server: AuthServer | None) -> list[AssignmentRule]:
    if server is None:
        return []
    return [AssignmentRule.from_doc(rule) for rule in server.rules]


# ---------------------------------------------------------------------------------------------- logins


@dataclass(frozen=True)
class Realm:
    """Where a login goes: a tenant, and the authentication server its domain names (None: the
    tenant's local users, reached through the tenant's name)."""

    tenant_id: int
    server: AuthServer | None

    @property
    def server_type(self) -> str:
        return TYPE_LOCAL if self.server is None else self.server.type

    @property
    def server_id(self) -> int | None:
        return None if self.server is None else self.server.id


def resolve_realm(domain: str | None) -> Realm | None:
    """The realm a login domain names (cached); no domain means the system tenant's local users."""
    if domain is None or not domain.strip() or canonical(domain) == SYSTEM_LOGIN_NAME:
        return Realm(SYSTEM_TENANT_ID, None)
    wanted = canonical(domain)
    match = _domain_cache.get(wanted, lambda: _login_names.find(wanted))
    if match is None:
        return None
    tenant_id, server_id = match.owner_tenant_id, match.auth_server_id
    if server_id is None:
        return Realm(tenant_id, None)
    server = _server_cache.get((tenant_id, server_id), lambda: stores.auth_servers.find(tenant_id, server_id))
    if server is None:  # deleted meanwhile
        _domain_cache.drop(wanted)
        return None
    return Realm(tenant_id, server)


def directory_settings(server: AuthServer, refresh_password: bool = False) -> DirectorySettings:
    key = (server.tenant_id, server.id)
    cleartext = _sends_in_clear(server)
    if cleartext and not server.allow_cleartext_password:  # saved before the flag existed
        raise ServiceUnavailable(f"Authentication server '{server.name}' would send passwords in clear "
                                 f"(ldap:// without StartTLS); an administrator must turn on StartTLS, use "
                                 f"ldaps://, or set {CLEARTEXT_FLAG} = 1")
    if refresh_password:
        _password_cache.drop(key)

    def load() -> str | None:
        if cleartext:  # logged as often as the password is read (the cache's lifetime), not per login
            log.warning("authentication server sends passwords in clear",
                        extra={"tenant_id": key[0], "auth_server_id": key[1], CLEARTEXT_FLAG: 1})
        return stores.secrets.get(server_secret_name(*key))

    password = _password_cache.get(key, load)
    if password is None:
        raise ServiceUnavailable(f"The bind password of authentication server '{server.name}' is missing "
                                 "from Secrets Manager; an administrator must set it again")
    return _settings_from(server, password)


def _settings_from(server: AuthServer, password: str) -> DirectorySettings:
    from chalicelib.auth.ldap import FLAVOUR_ACTIVE_DIRECTORY, FLAVOUR_LDAP, DirectorySettings

    return DirectorySettings(
        urls=tuple(server.urls),
        bind_dn=server.bind_dn or "",
        bind_password=password,
        search_base=server.search_base or "",
        login_attribute=server.login_attribute or DEFAULT_LOGIN_ATTRIBUTE.get(server.type, "uid"),
        start_tls=bool(server.start_tls),
        group_membership=server.group_membership,
        group_search_base=server.group_search_base or None,
        group_member_attribute=server.group_member_attribute,
        connect_timeout_seconds=server.connect_timeout_seconds,
        receive_timeout_seconds=server.receive_timeout_seconds,
        flavour=FLAVOUR_ACTIVE_DIRECTORY if server.type == TYPE_ACTIVE_DIRECTORY else FLAVOUR_LDAP,
        login_domain=server.domain,
        verify_tls=bool(server.verify_tls),
        ca_certificate_pem=server.ca_certificate_pem or None,
    )


def authenticate_directory(server: AuthServer, login: str, password: str) -> DirectoryUser:
    """Search-then-bind against the server (DirectoryInvalidCredentials / DirectoryUnavailable)."""
    from chalicelib.auth.ldap import authenticate

    return authenticate(directory_settings(server), login, password)


def directory_group_matcher(user: DirectoryUser) -> Any:
    from chalicelib.auth.ldap import group_matches

    return lambda group: group_matches(user, group)


def _forget(tenant_id: int, server_id: int, *domains: str) -> None:
    _server_cache.drop((tenant_id, server_id))
    _password_cache.drop((tenant_id, server_id))
    for domain in domains:
        _domain_cache.drop(canonical(domain))
