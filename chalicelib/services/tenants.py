"""Tenants (our extension): created by the system administrator; the name is the login domain."""

from __future__ import annotations

from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.errors import InsufficientPermissions, NotFound, NotUnique
from chalicelib.schemas.admin import TenantBody
from chalicelib.services import audit
from chalicelib.store import stores
from chalicelib.store.models import TenantRecord

SYSTEM_TENANT_NAME = "System"


def require_system_admin(caller: Caller) -> None:
    if not caller.is_system_admin:
        raise InsufficientPermissions("Only the system administrator may manage tenants")


def create_tenant(caller: Caller, body: TenantBody) -> TenantRecord:
    require_system_admin(caller)
    if body.name.strip().casefold() == SYSTEM_TENANT_NAME.casefold():
        # The name is the login domain, and this one already means the system tenant.
        raise NotUnique(f"The tenant name '{body.name}' is reserved", "name")
    record = stores.tenants.create(SYSTEM_TENANT_ID, body.name, {"notes": body.notes})
    audit.record(SYSTEM_TENANT_ID, "tenant.created", f"Tenant '{record.name}' created", user=caller.login,
                 details={"tenant_id": int(record.id)})
    return record


def list_tenants(caller: Caller) -> list[TenantRecord]:
    require_system_admin(caller)
    return stores.tenants.list(SYSTEM_TENANT_ID)


def get_tenant(caller: Caller, tenant_id: int) -> TenantRecord:
    require_system_admin(caller)
    return stores.tenants.get(SYSTEM_TENANT_ID, tenant_id)


def tenant_exists(tenant_id: int) -> bool:
    return tenant_id == SYSTEM_TENANT_ID or stores.tenants.find(SYSTEM_TENANT_ID, tenant_id) is not None


def tenant_id_for_domain(domain: str | None) -> int:
    """The tenant whose name is `domain`; no domain means the system tenant."""
    if domain is None or not domain.strip() or domain.strip().casefold() == SYSTEM_TENANT_NAME.casefold():
        return SYSTEM_TENANT_ID
    from chalicelib.store.models import NameRecord
    from chalicelib.store.repos import name_key

    try:
        return int(NameRecord.get(name_key(SYSTEM_TENANT_ID, "tenant", domain)).ref_id)
    except NameRecord.DoesNotExist as error:
        raise NotFound(f"No tenant named '{domain}'") from error
