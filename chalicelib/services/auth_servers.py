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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.endpoints import CLEARTEXT_FLAG, Transport, sends_in_clear, why_secret_needed_again
from chalicelib.domain.errors import BadData, BrokerError, ErrorList, ServiceUnavailable
from chalicelib.domain.login_names import SYSTEM_LOGIN_NAME, canonical, domain_problem
from chalicelib.domain.policy_rules import AssignmentRule
from chalicelib.domain.roles import ROLE_NAMES, parse_role
from chalicelib.schemas.auth_servers import AuthServerBody, AuthServerUpdate
from chalicelib.services import audit
from chalicelib.services.client_cache import TtlCache
from chalicelib.store import stores
from chalicelib.store.login_names import LoginName, LoginNames, label
from chalicelib.store.models import AuthServerRecord
from chalicelib.store.secrets import secret_name
from chalicelib.store.transactions import Transaction

if TYPE_CHECKING:
    from chalicelib.auth.ldap import DirectorySettings, DirectoryUser

log = logging.getLogger("broker.auth_servers")

TYPE_LOCAL = "local"
TYPE_LDAP = "ldap"
TYPE_ACTIVE_DIRECTORY = "active_directory"
DIRECTORY_FIELDS = ("urls", "start_tls", "bind_dn", "search_base", "login_attribute", "group_membership",
                    "group_search_base", "group_member_attribute", "connect_timeout_seconds",
                    "receive_timeout_seconds", "verify_tls", "ca_certificate_pem", CLEARTEXT_FLAG)
DEFAULT_LOGIN_ATTRIBUTE = {TYPE_LDAP: "uid", TYPE_ACTIVE_DIRECTORY: "sAMAccountName"}

_login_names = LoginNames()
_domain_cache: TtlCache[LoginName] = TtlCache("login-names")
_server_cache: TtlCache[AuthServerRecord] = TtlCache("auth-servers")
_password_cache: TtlCache[str] = TtlCache("auth-server-passwords")


def server_secret_name(tenant_id: int, server_id: int) -> str:
    return secret_name("auth-server", tenant_id, server_id)


def is_directory(doc: dict[str, Any]) -> bool:
    return doc.get("type") in (TYPE_LDAP, TYPE_ACTIVE_DIRECTORY)


# ------------------------------------------------------------------------------------------- admin API


def list_servers(caller: Caller) -> list[AuthServerRecord]:
    return stores.auth_servers.list(caller.tenant_id)


def get_server(caller: Caller, server_id: int) -> AuthServerRecord:
    return stores.auth_servers.get(caller.tenant_id, server_id)


def _domain_refusals(domain: str) -> dict[str, BrokerError]:
    """A tenant can only serve a login name it owns; which other tenant owns a name (if any) is not
    said, so a tenant administrator cannot enumerate the MSP's other customers."""
    return {label(domain): BadData.field(
        "/body/domain",
        f"'{domain}' is not a free login domain of this tenant: use the tenant's name or a domain the "
        "system administrator granted it (PUT /rest/v1/tenants/{id}) that no other server of the tenant "
        "uses")}


def create_server(caller: Caller, body: AuthServerBody) -> AuthServerRecord:
    doc = _normalised(body.model_dump(exclude={"name", "bind_password"}))
    _validate(caller, doc, body.bind_password, password_stored=False)

    def bind(tx: Transaction, record: AuthServerRecord) -> None:
        _login_names.bind(tx, doc["domain"], caller.tenant_id, int(record.id))

    record = stores.auth_servers.create(caller.tenant_id, body.name, doc, also=bind,
                                        refusals=_domain_refusals(doc["domain"]))
    server_id = int(record.id)
    if is_directory(doc):
        try:
            stores.secrets.put(server_secret_name(caller.tenant_id, server_id), body.bind_password or "")
        except ServiceUnavailable:
            _delete_record(caller.tenant_id, record)  # no directory server without its bind password
            raise
    _forget(caller.tenant_id, server_id, doc["domain"])
    audit.record(caller.tenant_id, "auth_server.created", f"Authentication server '{record.name}' created",
                 user=caller.login, details={"auth_server_id": server_id, "type": doc["type"],
                                             "domain": doc["domain"], **_cleartext_details(doc)})
    return record


def update_server(caller: Caller, server_id: int, body: AuthServerUpdate) -> AuthServerRecord:
    record = stores.auth_servers.get(caller.tenant_id, server_id)
    changes = body.model_dump(exclude_unset=True, exclude={"id", "name", "bind_password"})
    old_doc = record.doc
    doc = _normalised({**old_doc, **changes}, changed_type="type" in changes)
    password_stored = is_directory(old_doc)
    _validate(caller, doc, body.bind_password, password_stored=password_stored, previous=old_doc)
    old_domain, new_domain = old_doc["domain"], doc["domain"]
    domain_moved = canonical(old_domain) != canonical(new_domain)

    def move_domain(tx: Transaction, _record: AuthServerRecord) -> None:
        if domain_moved:
            _login_names.unbind(tx, old_domain, caller.tenant_id, server_id)
            _login_names.bind(tx, new_domain, caller.tenant_id, server_id)

    secret = server_secret_name(caller.tenant_id, server_id)
    if is_directory(doc) and body.bind_password is not None:
        # Before the settings: if Secrets Manager fails, the old password never meets the new URLs.
        stores.secrets.put(secret, body.bind_password)
    record = stores.auth_servers.update(record, body.name or record.name, doc, also=move_domain,
                                        refusals=_domain_refusals(new_domain))
    if not is_directory(doc) and password_stored:
        stores.secrets.delete(secret)
    _forget(caller.tenant_id, server_id, old_domain, new_domain)
    fields = sorted({*changes, *(["bind_password"] if body.bind_password is not None else [])})
    audit.record(caller.tenant_id, "auth_server.updated", f"Authentication server '{record.name}' updated",
                 user=caller.login, details={"auth_server_id": server_id, "fields": fields,
                                             **_cleartext_details(doc)})
    return record


def delete_server(caller: Caller, server_id: int) -> None:
    """Users of the server stay (an administrator may move them); they cannot log in through it."""
    record = stores.auth_servers.get(caller.tenant_id, server_id)
    _delete_record(caller.tenant_id, record)
    if is_directory(record.doc):
        stores.secrets.delete(server_secret_name(caller.tenant_id, server_id))
    _forget(caller.tenant_id, server_id, record.doc["domain"])
    audit.record(caller.tenant_id, "auth_server.deleted", f"Authentication server '{record.name}' deleted",
                 user=caller.login, details={"auth_server_id": server_id})


def _delete_record(tenant_id: int, record: AuthServerRecord) -> None:
    """Delete the server and free its login domain in one transaction."""
    def unbind(tx: Transaction, _record: AuthServerRecord) -> None:
        _login_names.unbind(tx, record.doc["domain"], tenant_id, int(record.id))

    stores.auth_servers.delete(record, also=unbind)


def test_server(caller: Caller, server_id: int) -> str:
    """Bind with the service account and read the search base; DirectoryUnavailable (503) if not."""
    record = stores.auth_servers.get(caller.tenant_id, server_id)
    if not is_directory(record.doc):
        return "Local users need no directory"
    from chalicelib.auth.ldap import check_connection

    check_connection(directory_settings(record, refresh_password=True))
    return "The directory answered and accepted the service account"


def _normalised(doc: dict[str, Any], changed_type: bool = False) -> dict[str, Any]:
    doc = dict(doc)
    doc["domain"] = doc["domain"].strip()
    server_type = doc["type"]
    if server_type == TYPE_LOCAL:
        for field in DIRECTORY_FIELDS:
            doc.pop(field, None)
    elif not doc.get("login_attribute") or (changed_type and doc.get("login_attribute")
                                             in DEFAULT_LOGIN_ATTRIBUTE.values()):
        doc["login_attribute"] = DEFAULT_LOGIN_ATTRIBUTE[server_type]
    return doc


def _validate(caller: Caller, doc: dict[str, Any], password: str | None, password_stored: bool,
              previous: dict[str, Any] | None = None) -> None:
    """Every problem of the server's settings at once. `previous`: the stored settings an update starts
    from (a bind password stored for them goes nowhere new without being given again)."""
    errors = ErrorList()
    problem = domain_problem(doc["domain"])
    if problem:
        errors.add("/body/domain", problem)
    if is_directory(doc):
        if not doc.get("urls"):
            errors.add("/body/urls", "Give at least one ldap:// or ldaps:// URL")
        if not doc.get("bind_dn"):
            errors.add("/body/bind_dn", "Give the DN of the service account the broker searches with")
        if password is None and not password_stored:
            errors.add("/body/bind_password", "Give the service account's password")
        if not doc.get("search_base"):
            errors.add("/body/search_base", "Give the DN under which users are searched")
        if not errors.errors:
            _check_directory_settings(doc, password or "placeholder", errors)
        _check_cleartext(doc, errors)
        if password is None and previous is not None and is_directory(previous):
            _require_password_for_new_recipient(previous, doc, errors)
    for index, rule in enumerate(doc.get("rules") or []):
        if parse_role(rule.get("role_name")) is None:
            errors.add(f"/body/rules/{index}/role_name",
                       f"Unknown role; choose one of: {', '.join(ROLE_NAMES)}")
        if doc["type"] == TYPE_LOCAL and rule.get("group"):
            errors.add(f"/body/rules/{index}/group", "Local users have no groups; use any_user = 1")
    wanted = [int(r["policy_id"]) for r in doc.get("rules") or []]
    found = stores.policies.batch_get(caller.tenant_id, wanted) if wanted else {}
    for index, policy_id in enumerate(wanted):
        if policy_id not in found:
            errors.add(f"/body/rules/{index}/policy_id", f"Policy {policy_id} does not exist")
    errors.raise_if_any("Authentication server cannot be saved, some input data is not valid.")
    for rule in doc.get("rules") or []:
        role = parse_role(rule.get("role_name"))
        rule["role_name"] = role.value if role else rule.get("role_name")


def _check_cleartext(doc: dict[str, Any], errors: ErrorList) -> None:
    if doc.get(CLEARTEXT_FLAG):
        return
    for index, url in enumerate(doc.get("urls") or []):
        if _url_in_clear(doc, url):
            errors.add(f"/body/urls/{index}", f"ldap:// without StartTLS sends passwords in clear; use "
                                              f"ldaps://, set start_tls = 1, or set {CLEARTEXT_FLAG} = 1")


def _url_in_clear(doc: dict[str, Any], url: str) -> bool:
    return sends_in_clear(url, start_tls=bool(doc.get("start_tls")))


def _sends_in_clear(doc: dict[str, Any]) -> bool:
    return is_directory(doc) and any(_url_in_clear(doc, url) for url in doc.get("urls") or [])


def _cleartext_details(doc: dict[str, Any]) -> dict[str, int]:
    return {CLEARTEXT_FLAG: int(bool(doc.get(CLEARTEXT_FLAG)))} if is_directory(doc) else {}


def _require_password_for_new_recipient(before: dict[str, Any], after: dict[str, Any],
                                        errors: ErrorList) -> None:
    """The stored bind password goes only where it was given for (chalicelib/domain/endpoints.py)."""
    reason = why_secret_needed_again(before.get("urls") or [], after.get("urls") or [],
                                     [before.get("bind_dn")], [after.get("bind_dn")],
                                     _transport(before), _transport(after))
    if reason:
        errors.add("/body/bind_password", f"Give the bind password again: {reason}")


def _transport(doc: dict[str, Any]) -> Transport:
    return Transport(start_tls=bool(doc.get("start_tls")), verify_tls=bool(doc.get("verify_tls", 1)),
                     ca_certificate_pem=doc.get("ca_certificate_pem"))


def _check_directory_settings(doc: dict[str, Any], password: str, errors: ErrorList) -> None:
    try:
        _settings_from(doc, password)
    except BadData as error:
        for problem in error.errors:
            path = problem.path if problem.path.startswith("/") else f"/body/{problem.path.replace('.', '/')}"
            errors.add(path, problem.message)


def rules_of(record: AuthServerRecord | None) -> list[AssignmentRule]:
    if record is None:
        return []
    return [AssignmentRule.from_doc(rule) for rule in record.doc.get("rules") or []]


# ---------------------------------------------------------------------------------------------- logins


@dataclass(frozen=True)
class Realm:
    """Where a login goes: a tenant, and the authentication server its domain names (None: the
    tenant's local users, reached through the tenant's name)."""

    tenant_id: int
    server: AuthServerRecord | None

    @property
    def server_type(self) -> str:
        return TYPE_LOCAL if self.server is None else str(self.server.doc["type"])

    @property
    def server_id(self) -> int | None:
        return None if self.server is None else int(self.server.id)


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


def directory_settings(record: AuthServerRecord, refresh_password: bool = False) -> DirectorySettings:
    key = (int(record.tenant_id), int(record.id))
    cleartext = _sends_in_clear(record.doc)
    if cleartext and not record.doc.get(CLEARTEXT_FLAG):  # saved before the flag existed
        raise ServiceUnavailable(f"Authentication server '{record.name}' would send passwords in clear "
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
        raise ServiceUnavailable(f"The bind password of authentication server '{record.name}' is missing "
                                 "from Secrets Manager; an administrator must set it again")
    return _settings_from(record.doc, password)


def _settings_from(doc: dict[str, Any], password: str) -> DirectorySettings:
    from chalicelib.auth.ldap import FLAVOUR_ACTIVE_DIRECTORY, FLAVOUR_LDAP, DirectorySettings

    return DirectorySettings(
        urls=tuple(doc.get("urls") or ()),
        bind_dn=doc.get("bind_dn") or "",
        bind_password=password,
        search_base=doc.get("search_base") or "",
        login_attribute=doc.get("login_attribute") or DEFAULT_LOGIN_ATTRIBUTE.get(doc["type"], "uid"),
        start_tls=bool(doc.get("start_tls")),
        group_membership=doc.get("group_membership") or "memberOf",
        group_search_base=doc.get("group_search_base") or None,
        group_member_attribute=doc.get("group_member_attribute") or "member",
        connect_timeout_seconds=float(doc.get("connect_timeout_seconds") or 5.0),
        receive_timeout_seconds=float(doc.get("receive_timeout_seconds") or 10.0),
        flavour=FLAVOUR_ACTIVE_DIRECTORY if doc["type"] == TYPE_ACTIVE_DIRECTORY else FLAVOUR_LDAP,
        login_domain=doc.get("domain"),
        verify_tls=bool(doc.get("verify_tls", 1)),
        ca_certificate_pem=doc.get("ca_certificate_pem") or None,
    )


def authenticate_directory(record: AuthServerRecord, login: str, password: str) -> DirectoryUser:
    """Search-then-bind against the server (DirectoryInvalidCredentials / DirectoryUnavailable)."""
    from chalicelib.auth.ldap import authenticate

    return authenticate(directory_settings(record), login, password)


def directory_group_matcher(user: DirectoryUser) -> Any:
    from chalicelib.auth.ldap import group_matches

    return lambda group: group_matches(user, group)


def _forget(tenant_id: int, server_id: int, *domains: str) -> None:
    _server_cache.drop((tenant_id, server_id))
    _password_cache.drop((tenant_id, server_id))
    for domain in domains:
        _domain_cache.drop(canonical(domain))
