"""One repository instance per kind of record, shared by the services."""

from __future__ import annotations

from chalicelib.domain.entities.auth_servers import AuthServer
from chalicelib.domain.entities.centers import Center
from chalicelib.domain.entities.gateways import Gateway
from chalicelib.domain.entities.plans import PlanEntity
from chalicelib.domain.entities.policies import Policy
from chalicelib.domain.entities.pools import Pool
from chalicelib.domain.entities.tenants import Tenant
from chalicelib.store.login_names import LOGIN_NAMES
from chalicelib.store.models import (
    AuthServerRecord,
    CenterRecord,
    GatewayRecord,
    PlanRecord,
    PolicyRecord,
    PoolRecord,
    TenantRecord,
)
from chalicelib.store.queue import WorkQueue
from chalicelib.store.repos import AuditStore, EntityStore, SessionStore, TypedEntityStore, UserStore
from chalicelib.store.secrets import SecretStore

# A tenant's name is a login name: one namespace with the login domains (chalicelib/store/login_names.py).
tenants = TypedEntityStore(EntityStore(TenantRecord, "tenant", "Tenant", name_kind=LOGIN_NAMES), Tenant)
centers = TypedEntityStore(EntityStore(CenterRecord, "center", "Center"), Center)
pools = TypedEntityStore(EntityStore(PoolRecord, "pool", "Pool"), Pool)
policies = TypedEntityStore(EntityStore(PolicyRecord, "policy", "Policy"), Policy)
# a "Default" of each kind; each record is read as the entity of its kind
plans = TypedEntityStore(EntityStore(PlanRecord, "plan", "Plan", name_scope="kind"), PlanEntity)
auth_servers = TypedEntityStore(EntityStore(AuthServerRecord, "auth_server", "Authentication server"),
                                AuthServer)
gateways = TypedEntityStore(EntityStore(GatewayRecord, "gateway", "Gateway"), Gateway)
users = UserStore()
sessions = SessionStore()
audit = AuditStore()
secrets = SecretStore()
queue = WorkQueue()
