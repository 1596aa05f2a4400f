"""Tenants (our extension), managed by the system administrator.

A tenant's name is its own login domain; the system administrator may grant it more login domains
(`login_domains`), which only then its authentication servers can serve. Tenant names and login
domains are one namespace, reserved in the transaction that saves the tenant (chalicelib/store/
login_names.py), so no tenant can take a name another tenant's users log in with, in either order.

`listed_at_login` (default 0) puts the tenant's name and login domains on the portal's sign-in page
(`GET /client/v1/domains`); they are written to the one listing item in the same transaction, so the
public list never enumerates a tenant that did not choose it (an MSP's customers stay unlisted).
"""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain import time_limits
from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.entities.tenants import Tenant
from chalicelib.domain.errors import (
    BadData,
    BrokerError,
    ErrorList,
    InsufficientPermissions,
    NotFound,
    NotUnique,
)
from chalicelib.domain.login_names import SYSTEM_LOGIN_NAME, canonical, domain_problem, repeated
from chalicelib.schemas.admin import TenantBody, TenantUpdate
from chalicelib.services import audit
from chalicelib.services.client_cache import TtlCache
from chalicelib.store import stores
from chalicelib.store.login_names import LISTING_LABEL, MAX_LISTED_TENANTS, LoginListing, LoginNames, label
from chalicelib.store.transactions import Transaction

_login_names = LoginNames()
_listing = LoginListing()
_listed_cache: TtlCache[list[str]] = TtlCache("login-listing", max_entries=1)


def _listing_full() -> BadData:
    return BadData.field("/body/listed_at_login",
                         f"At most {MAX_LISTED_TENANTS} tenants can be listed on the sign-in page")


def require_system_admin(caller: Caller) -> None:
    if not caller.is_system_admin:
        raise InsufficientPermissions("Only the system administrator may manage tenants")


def _checked_domains(name: str, domains: list[str]) -> list[str]:
    errors = ErrorList()
    for index, domain in enumerate(domains):
        problem = domain_problem(domain)
        if problem:
            errors.add(f"/body/login_domains/{index}", problem)
        elif canonical(domain) == canonical(name):
            errors.add(f"/body/login_domains/{index}", "The tenant's name is already its login domain")
    for index in repeated(domains):
        errors.add(f"/body/login_domains/{index}", "This login domain is listed twice")
    errors.raise_if_any("Tenant cannot be saved, some input data is not valid.")
    return [canonical(d) for d in domains]


def _taken(domains: list[str], indexes: dict[str, int]) -> dict[str, BrokerError]:
    return {label(d): NotUnique(f"The login domain '{d}' is already a tenant's name or login domain",
                                f"/body/login_domains/{indexes[d]}") for d in domains}


def _checked_zone(zone: str) -> str:
    """The tenant's default zone for its pools' time limits: an IANA name, or "" for UTC."""
    if zone and (problem := time_limits.zone_problem(zone)):
        raise BadData.field("/body/time_zone", problem)
    return zone


def default_time_zone(tenant_id: int) -> str:
    """The zone a pool of this tenant that names none reads its times in ("" = UTC)."""
    if tenant_id == SYSTEM_TENANT_ID:
        return ""
    tenant = stores.tenants.find(SYSTEM_TENANT_ID, tenant_id)
    return tenant.time_zone if tenant else ""


def create_tenant(caller: Caller, body: TenantBody) -> Tenant:
    require_system_admin(caller)
    zone = _checked_zone(body.time_zone)
    if canonical(body.name) == SYSTEM_LOGIN_NAME:
        # The name is the login domain, and this one already means the system tenant.
        raise NotUnique(f"The tenant name '{body.name}' is reserved", "name")
    domains = _checked_domains(body.name, body.login_domains)

    listed = bool(body.listed_at_login)
    if listed:
        _listing.ensure()

    def grants(tx: Transaction, tenant: Tenant) -> None:
        for domain in domains:
            _login_names.grant(tx, domain, tenant.id)
        if listed:
            _listing.put(tx, tenant.id, [tenant.name, *domains])

    try:
        tenant = stores.tenants.create(Tenant(tenant_id=SYSTEM_TENANT_ID, name=body.name, notes=body.notes,
                                              login_domains=tuple(domains), listed_at_login=int(listed),
                                              time_zone=zone),
                                       also=grants, refusals={**_taken(domains, _positions(domains)),
                                                              LISTING_LABEL: _listing_full()})
    except NotUnique as error:
        if error.field == "name":
            raise NotUnique(f"The name '{body.name}' is already a tenant's name or login domain",
                            "name") from error
        raise
    _listed_cache.clear()
    audit.record(SYSTEM_TENANT_ID, "tenant.created", f"Tenant '{tenant.name}' created", user=caller.login,
                 details={"tenant_id": tenant.id, "login_domains": domains,
                          "listed_at_login": int(listed)})
    return tenant


def update_tenant(caller: Caller, tenant_id: int, body: TenantUpdate) -> Tenant:
    require_system_admin(caller)
    before = stores.tenants.get(SYSTEM_TENANT_ID, tenant_id)
    if body.name is not None and canonical(body.name) != canonical(before.name):
        raise BadData.field("/body/name", "A tenant's name is its login domain and cannot change; "
                                          "grant another name in login_domains instead")
    zone = before.time_zone if body.time_zone is None else _checked_zone(body.time_zone)
    old = list(before.login_domains)
    new = old if body.login_domains is None else _checked_domains(before.name, body.login_domains)
    added = [d for d in new if d not in old]
    removed = [d for d in old if d not in new]
    notes = before.notes if body.notes is None else body.notes
    was_listed = bool(before.listed_at_login)
    listed = was_listed if body.listed_at_login is None else bool(body.listed_at_login)
    if listed:
        _listing.ensure()

    def grants(tx: Transaction, _tenant: Tenant) -> None:
        for domain in added:
            _login_names.grant(tx, domain, tenant_id)
        for domain in removed:
            _login_names.revoke(tx, domain, tenant_id)
        if listed:
            _listing.put(tx, tenant_id, [before.name, *new])
        elif was_listed:
            _listing.remove(tx, tenant_id)

    in_use = {label(d): BadData.field("/body/login_domains", f"The login domain '{d}' is used by an "
                                      "authentication server of this tenant; change or delete that server "
                                      "first") for d in removed}
    after = replace(before, notes=notes, login_domains=tuple(new), listed_at_login=int(listed),
                    time_zone=zone)
    tenant = stores.tenants.update(before, after, also=grants,
                                   refusals={**_taken(added, _positions(new)), **in_use,
                                             LISTING_LABEL: _listing_full()})
    _listed_cache.clear()
    audit.record(SYSTEM_TENANT_ID, "tenant.updated", f"Tenant '{tenant.name}' updated", user=caller.login,
                 details={"tenant_id": tenant_id, "granted": added, "revoked": removed,
                          "listed_at_login": int(listed)})
    return tenant


def listed_login_names() -> list[str]:
    """The login names the sign-in page may offer (public): one GetItem, cached in-process like the other
    login-domain lookups (docs/client-api.md); a change made through this process is seen at once."""
    return _listed_cache.get("names", _listing.names)


def _positions(domains: list[str]) -> dict[str, int]:
    return {domain: index for index, domain in enumerate(domains)}


def list_tenants(caller: Caller) -> list[Tenant]:
    require_system_admin(caller)
    return stores.tenants.list(SYSTEM_TENANT_ID)


def get_tenant(caller: Caller, tenant_id: int) -> Tenant:
    require_system_admin(caller)
    return stores.tenants.get(SYSTEM_TENANT_ID, tenant_id)


def tenant_exists(tenant_id: int) -> bool:
    return tenant_id == SYSTEM_TENANT_ID or stores.tenants.find(SYSTEM_TENANT_ID, tenant_id) is not None


def tenant_id_for_domain(domain: str | None) -> int:
    """The tenant that owns the login name `domain`; no domain means the system tenant."""
    if domain is None or not domain.strip() or canonical(domain) == SYSTEM_LOGIN_NAME:
        return SYSTEM_TENANT_ID
    found = _login_names.find(domain)
    if found is None:
        raise NotFound(f"No tenant has the login domain '{domain}'")
    return found.owner_tenant_id
