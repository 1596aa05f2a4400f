"""Login names: tenant names and login domains, one namespace (ARCHITECTURE.md invariant 8).

The domain a user types at login names exactly one tenant, and within it the authentication server
that checks the password (none: the tenant's local users). Every such name is one item of the names
table, `0#login#<name>` (case-folded), written in the same DynamoDB transaction as the record that
claims it, so whichever claim commits first owns the name, in either order and under races:

- a tenant's name: written with the tenant (kind `tenant`; `chalicelib/store/stores.py` gives the
  tenant store this namespace for its unique names);
- a login domain the system administrator grants to a tenant (kind `domain`), written with the
  tenant's record;
- an authentication server binds a name its tenant owns (sets `auth_server_id`), in the transaction
  that saves the server. The system tenant's own servers reserve a free name directly.

A tenant administrator can therefore only use a name the system administrator gave the tenant: a
domain squatted before its tenant exists is impossible (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import size

from chalicelib.domain.caller import SYSTEM_TENANT_ID
from chalicelib.store.binding import ensure_bound
from chalicelib.store.models import NameRecord
from chalicelib.store.repos import name_key
from chalicelib.store.transactions import Transaction

LOGIN_NAMES = "login"  # the kind part of the names table's key
KIND_DOMAIN = "domain"


def login_name_key(name: str) -> str:
    return name_key(SYSTEM_TENANT_ID, LOGIN_NAMES, name)


def label(name: str) -> str:
    """The transaction label of a login name's item (see chalicelib/store/transactions.py)."""
    return f"login-name:{name.strip().casefold()}"


@dataclass(frozen=True)
class LoginName:
    name: str
    owner_tenant_id: int
    kind: str  # "tenant" (a tenant's name) or KIND_DOMAIN
    auth_server_id: int | None


def _from_record(name: str, record: NameRecord) -> LoginName:
    server = record.auth_server_id
    return LoginName(name.strip().casefold(), int(record.ref_id), str(record.kind),
                     None if server is None else int(server))


class LoginNames:
    def find(self, name: str, consistent: bool = False) -> LoginName | None:
        ensure_bound()
        try:
            record = NameRecord.get(login_name_key(name), consistent_read=consistent)
        except DoesNotExist:
            return None
        return _from_record(name, record)

    # ----------------------------------------------------------------- items of a caller's transaction

    def grant(self, tx: Transaction, name: str, tenant_id: int) -> None:
        """Reserve `name` as a login domain of the tenant (fails if any tenant or domain holds it)."""
        record = NameRecord(key=login_name_key(name), tenant_id=SYSTEM_TENANT_ID, kind=KIND_DOMAIN,
                            ref_id=tenant_id)
        tx.put(label(name), record, condition=NameRecord.key.does_not_exist())

    def revoke(self, tx: Transaction, name: str, tenant_id: int) -> None:
        """Give a granted domain back; fails while an authentication server uses it."""
        condition = ((NameRecord.kind == KIND_DOMAIN) & (NameRecord.ref_id == tenant_id)
                     & NameRecord.auth_server_id.does_not_exist())
        tx.delete(label(name), NameRecord(key=login_name_key(name)), condition=condition, versioned=False)

    def bind(self, tx: Transaction, name: str, tenant_id: int, server_id: int) -> None:
        """Let the server serve logins to `name`: the tenant must own the name and no other server may
        serve it. The system tenant's servers take a free name (it has no grants to draw from)."""
        key = NameRecord(key=login_name_key(name))
        if tenant_id == SYSTEM_TENANT_ID:
            actions = [NameRecord.tenant_id.set(SYSTEM_TENANT_ID), NameRecord.kind.set(KIND_DOMAIN),
                       NameRecord.ref_id.set(SYSTEM_TENANT_ID), NameRecord.auth_server_id.set(server_id)]
            condition = NameRecord.key.does_not_exist() | (
                (NameRecord.ref_id == SYSTEM_TENANT_ID) & NameRecord.auth_server_id.does_not_exist())
        else:
            actions = [NameRecord.auth_server_id.set(server_id)]
            condition = (NameRecord.ref_id == tenant_id) & NameRecord.auth_server_id.does_not_exist()
        tx.update(label(name), key, actions, condition=condition, versioned=False)

    def unbind(self, tx: Transaction, name: str, tenant_id: int, server_id: int) -> None:
        """The server stops serving `name`; a tenant keeps the name, the system tenant frees it."""
        key = NameRecord(key=login_name_key(name))
        if tenant_id == SYSTEM_TENANT_ID:
            tx.delete(label(name), key, condition=NameRecord.auth_server_id == server_id, versioned=False)
        else:
            tx.update(label(name), key, [NameRecord.auth_server_id.remove()],
                      condition=NameRecord.auth_server_id == server_id, versioned=False)


# ------------------------------------------------------------------- the names listed at sign-in

LISTING_KEY = f"{SYSTEM_TENANT_ID}#{LOGIN_NAMES}-listing"  # one '#': never a login name's key
LISTING_LABEL = "login-listing"
KIND_LISTING = "listing"
# Tenants whose names the sign-in page may list. With at most 1 + MAX_GRANTED_DOMAINS names of at most
# 253 characters each, the listing item stays far below DynamoDB's 400 KB (ARCHITECTURE.md invariant 9).
MAX_LISTED_TENANTS = 50


class LoginListing:
    """The login names whose owners chose to have them listed on the portal's sign-in page, in one item
    (so the public list is one GetItem, never a Scan): `listed` maps a tenant id to its names. A tenant's
    entry is written in the transaction that saves the tenant, one map key per tenant, so saves of two
    tenants at once never overwrite each other's entry."""

    def names(self) -> list[str]:
        ensure_bound()
        try:
            record = NameRecord.get(LISTING_KEY)
        except DoesNotExist:
            return []
        listed = record.listed.as_dict() if record.listed is not None else {}
        return sorted({str(name) for names in listed.values() for name in names or []})

    def ensure(self) -> None:
        """Create the item with an empty map if it is missing (the entries are paths inside that map)."""
        ensure_bound()
        NameRecord(key=LISTING_KEY).update(actions=[
            NameRecord.tenant_id.set(SYSTEM_TENANT_ID), NameRecord.kind.set(KIND_LISTING),
            NameRecord.ref_id.set(SYSTEM_TENANT_ID), NameRecord.listed.set(NameRecord.listed | {})])

    # Items of the tenant's transaction; call ensure() first.

    def put(self, tx: Transaction, tenant_id: int, names: list[str]) -> None:
        """List the tenant's names (replacing what it listed); refused when MAX_LISTED_TENANTS others
        are listed already."""
        entry = NameRecord.listed[str(tenant_id)]
        condition = entry.exists() | (size(NameRecord.listed) < MAX_LISTED_TENANTS)
        tx.update_key(LISTING_LABEL, NameRecord, LISTING_KEY, None, [entry.set(list(names))],
                      condition=condition)

    def remove(self, tx: Transaction, tenant_id: int) -> None:
        tx.update_key(LISTING_LABEL, NameRecord, LISTING_KEY, None,
                      [NameRecord.listed[str(tenant_id)].remove()])
