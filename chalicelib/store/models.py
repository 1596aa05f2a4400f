"""DynamoDB tables as pynamodb models. `docs/data-model.md` lists the access patterns each key serves.

Table names, endpoint and region are bound at first use by `chalicelib.store.binding` (never at
import time). Tenant-scoped entities share one key shape: hash `tenant_id`, range `id` (the integer
id of the Leostream API), so every list is a Query on the tenant and no request path ever Scans.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model


class _BrokerMeta:
    """Defaults every model's Meta starts from; `binding.bind_tables` fills in name, host, region."""

    billing_mode = "PAY_PER_REQUEST"
    region = "us-east-1"
    host: str | None = None
    # Lambda's timeout is short: fail fast instead of retrying for a minute.
    connect_timeout_seconds = 3
    read_timeout_seconds = 10
    max_retry_attempts = 3


class EntityModel(Model):
    """A tenant-scoped record with an integer id, a unique name and its settings as a JSON document."""

    tenant_id = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)
    name = UnicodeAttribute()
    doc = JSONAttribute(default=dict)
    created = UnicodeAttribute()
    updated = UnicodeAttribute()
    version = VersionAttribute()


class TenantRecord(EntityModel):
    """Tenants belong to the system tenant (tenant_id 0), so listing them is one Query."""

    class Meta(_BrokerMeta):
        short_name = "tenants"


class CenterRecord(EntityModel):
    class Meta(_BrokerMeta):
        short_name = "centers"


class PoolRecord(EntityModel):
    """`stats` (pool size info) and `broker_state` (e.g. stopped by the broker on error) are written by
    the jobs with plain updates that leave `version` alone, so they never collide with an admin's edit."""

    stats = JSONAttribute(null=True)
    broker_state = JSONAttribute(null=True)

    class Meta(_BrokerMeta):
        short_name = "pools"


class PolicyRecord(EntityModel):
    """A policy with its pool assignments embedded in `doc`, so a login reads it in one request."""

    class Meta(_BrokerMeta):
        short_name = "policies"


class PlanRecord(EntityModel):
    """Protocol, release and power-control plans; `kind` tells which."""

    kind = UnicodeAttribute()

    class Meta(_BrokerMeta):
        short_name = "plans"


class AuthServerRecord(EntityModel):
    class Meta(_BrokerMeta):
        short_name = "auth_servers"


class GatewayRecord(EntityModel):
    """An HTML5 gateway (noVNC + websockify, or Guacamole); its signing key or shared key is in Secrets
    Manager, never here."""

    class Meta(_BrokerMeta):
        short_name = "gateways"


class UserById(LocalSecondaryIndex):
    class Meta:
        index_name = "by_id"
        projection = AllProjection()

    tenant_id = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class UserRecord(Model):
    """Keyed by login so that a login reads its user in one GetItem; the admin API's ids use the LSI.

    `held` is the set of desktops assigned to the user, changed only together with the desktop itself
    (one transaction), so a login reads what the user holds consistently here, never from a lagging
    index; `held_version` counts its changes, and a claim only commits if it is still the version the
    login decided on (ARCHITECTURE.md invariant 7). `tokens_after` (epoch seconds): end-user tokens and
    admin sessions issued before it are refused (password changed, account disabled)."""

    tenant_id = NumberAttribute(hash_key=True)
    login = UnicodeAttribute(range_key=True)  # lower-cased
    id = NumberAttribute()
    doc = JSONAttribute(default=dict)
    password_hash = UnicodeAttribute(null=True)
    held = NumberSetAttribute(null=True)
    held_version = NumberAttribute(null=True)
    tokens_after = NumberAttribute(null=True)
    created = UnicodeAttribute()
    updated = UnicodeAttribute()
    version = VersionAttribute()
    by_id = UserById()

    class Meta(_BrokerMeta):
        short_name = "users"


class NameRecord(Model):
    """Uniqueness of names (`<tenant>#<kind>#<name>`), written in the same transaction as the record it
    names. The login names (`0#login#<name>`: tenant names and login domains, one namespace) say which
    tenant owns the name (`ref_id`) and which authentication server serves it (`auth_server_id`; none:
    the tenant's local users); see chalicelib/store/login_names.py. One item, `0#login-listing`, holds in
    `listed` the login names the portal's sign-in page offers (tenant id -> that tenant's names)."""

    key = UnicodeAttribute(hash_key=True)
    tenant_id = NumberAttribute()
    kind = UnicodeAttribute()
    ref_id = NumberAttribute()
    auth_server_id = NumberAttribute(null=True)
    listed = MapAttribute(null=True)  # the listing item only: {"<tenant id>": ["name", ...]}

    class Meta(_BrokerMeta):
        short_name = "names"


class CounterRecord(Model):
    """Integer id sequences (`id#pool`) and other atomic counters, advanced with ADD. A pool's total
    (`pool-total#...`) also holds the open `reservation` of a provisioning check (docs/provisioning.md)."""

    key = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)
    reservation = JSONAttribute(null=True)

    class Meta(_BrokerMeta):
        short_name = "counters"


class SessionRecord(Model):
    """An admin API session. Only the SHA-256 of the sid is stored, never the sid itself."""

    sid_hash = UnicodeAttribute(hash_key=True)
    tenant_id = NumberAttribute()
    user_id = NumberAttribute()
    login = UnicodeAttribute()
    role = UnicodeAttribute()
    created = NumberAttribute(null=True)  # epoch seconds: the session's absolute lifetime counts from it
    last_seen = NumberAttribute()
    expires_at = TTLAttribute()

    class Meta(_BrokerMeta):
        short_name = "sessions"


class DesktopsByPool(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_pool"
        projection = AllProjection()

    pool_key = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class DesktopsByCenter(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_center"
        projection = AllProjection()

    center_key = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class DesktopsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_key = UnicodeAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)


class DesktopsByDue(GlobalSecondaryIndex):
    """Desktops with a pending lifecycle timer (release and power-control plans), by due time. Sparse:
    only a desktop with a timer has `due_bucket`; the bucket is one of a few shards (`due#<n>`) so the
    index's writes spread over partitions, and the timer job queries each shard for `due_at <= now`."""

    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()

    due_bucket = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class DesktopRecord(Model):
    """One instance in a center as the broker knows it. Index keys are set only when they apply
    (sparse indexes), e.g. `user_key` only while the desktop is assigned."""

    tenant_id = NumberAttribute(hash_key=True)
    id = NumberAttribute(range_key=True)
    name = UnicodeAttribute()
    display_name = UnicodeAttribute(null=True)
    center_id = NumberAttribute()
    center_key = UnicodeAttribute()
    pool_id = NumberAttribute(null=True)
    pool_key = UnicodeAttribute(null=True)
    instance_id = UnicodeAttribute(null=True)
    power_state = UnicodeAttribute(default="building")
    available = BooleanAttribute(default=True)
    deletable = BooleanAttribute(default=False)
    lifecycle = UnicodeAttribute(default="active")  # a DesktopLifecycle value
    assigned_user_id = NumberAttribute(null=True)
    user_key = UnicodeAttribute(null=True)
    last_user_key = UnicodeAttribute(null=True)  # "<tenant>#<user>" of the last user it was assigned to
    last_offered = NumberAttribute(null=True)  # epoch seconds of the last claim by a login
    due_bucket = UnicodeAttribute(null=True)  # set only while a lifecycle timer is pending (by_due)
    due_at = NumberAttribute(null=True)  # epoch seconds the earliest pending timer is due
    doc = JSONAttribute(default=dict)
    created = UnicodeAttribute()
    updated = UnicodeAttribute()
    version = VersionAttribute()
    by_pool = DesktopsByPool()
    by_center = DesktopsByCenter()
    by_user = DesktopsByUser()
    by_due = DesktopsByDue()

    class Meta(_BrokerMeta):
        short_name = "desktops"


class AuditRecord(Model):
    """One audit event; `event_key` is `<ISO time>#<random>` so a tenant's log is a range Query."""

    tenant_id = NumberAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()
    message = UnicodeAttribute()
    user = UnicodeAttribute(null=True)
    pool_id = NumberAttribute(null=True)
    desktop_id = NumberAttribute(null=True)
    details = JSONAttribute(default=dict)
    expires_at = TTLAttribute()

    class Meta(_BrokerMeta):
        short_name = "audit"


class PoolHistoryRecord(Model):
    """A sample of a pool's size info; `pool_key` is `<tenant>#<pool>`, `ts` epoch seconds."""

    pool_key = UnicodeAttribute(hash_key=True)
    ts = NumberAttribute(range_key=True)
    data = JSONAttribute(default=dict)
    expires_at = TTLAttribute()

    class Meta(_BrokerMeta):
        short_name = "pool_history"


class MarkerRecord(Model):
    """Short-lived facts that expire by themselves (TTL): a login's attempt window and lockout
    (`login-attempts#<tenant>#<hash of the login>`), a revoked client token (`revoked#<jti>`), a pending
    pool check (`check-pending#<tenant>#<pool>`) and a tenant's budget of unauthenticated audit events
    (`audit-budget#<tenant>#<minute>`). The attributes mean what the key's kind says."""

    key = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(null=True)
    since = NumberAttribute(null=True)
    until = NumberAttribute(null=True)
    failures = NumberAttribute(null=True)  # login attempts: the failed ones among the `value` slots
    expires_at = TTLAttribute(null=True)

    class Meta(_BrokerMeta):
        short_name = "markers"


ALL_MODELS: tuple[type[Model], ...] = (
    TenantRecord,
    CenterRecord,
    PoolRecord,
    PolicyRecord,
    PlanRecord,
    AuthServerRecord,
    GatewayRecord,
    UserRecord,
    NameRecord,
    CounterRecord,
    SessionRecord,
    DesktopRecord,
    AuditRecord,
    PoolHistoryRecord,
    MarkerRecord,
)
