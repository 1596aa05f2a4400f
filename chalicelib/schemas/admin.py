"""Sessions, tenants, users and system health (reference: session_login, UserAdd, SystemHealth)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from chalicelib.domain.login_names import MAX_GRANTED_DOMAINS
from chalicelib.schemas.common import Flag, FlagOut, LoginDomain, Name, OutModel, StrictModel, UpdateModel

Login = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
LoginPassword = Annotated[str, StringConstraints(min_length=1, max_length=100)]
NewPassword = Annotated[str, StringConstraints(min_length=3, max_length=100)]
Domain = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]


class SessionLogin(StrictModel):
    user_login: Login
    password: LoginPassword
    domain: Domain | None = None


class SessionOut(OutModel):
    sid: str


class LogoutOut(OutModel):
    message: str


LoginDomains = Annotated[list[LoginDomain], Field(max_length=MAX_GRANTED_DOMAINS)]
TenantNotes = Annotated[str, StringConstraints(max_length=4095)]
TimeZone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]


class TenantBody(StrictModel):
    """A tenant; its name is a login domain of its own, `login_domains` are more that the system
    administrator grants it (for its authentication servers, e.g. `corp.example.com`)."""

    name: Name
    notes: TenantNotes = ""
    login_domains: LoginDomains = []
    listed_at_login: Flag = 0  # 1: the portal's sign-in page lists the name and the login domains
    time_zone: TimeZone = ""  # IANA name: the zone of its pools' time limits when a pool names none


class TenantUpdate(UpdateModel):
    """`login_domains` replaces the whole list. The name cannot change: it is the tenant's login domain,
    which its users and their clients already type."""

    name: Name | None = None
    notes: TenantNotes | None = None
    login_domains: LoginDomains | None = None
    listed_at_login: Flag | None = None
    time_zone: TimeZone | None = None


class TenantOut(OutModel):
    id: int
    name: str
    notes: str
    login_domains: list[str]
    listed_at_login: FlagOut = 0
    time_zone: str = ""
    created: str
    updated: str


class TenantItemOut(OutModel):
    id: int
    name: str


class RespTenantCreated(OutModel):
    stored_data: TenantOut


class UserAdd(StrictModel):
    """The reference's `UserAdd`, plus `tenant_id` (only the system administrator may name another)."""

    is_local: Flag
    user_login: Login
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    password: NewPassword | None = None
    auth_server: Annotated[str, StringConstraints(max_length=100)] | None = None
    role_name: Annotated[str, StringConstraints(max_length=100)] = "User"
    policy_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    notes: Annotated[str, StringConstraints(max_length=4000)] = ""
    tenant_id: Annotated[int, Field(ge=0, le=2**53 - 1)] | None = None


class UserUpdate(UpdateModel):
    """A user's settings; a field left out keeps its value. `policy_name: null` removes the user's own
    policy (the tenant's rules then choose). Changing a password ends every session and token of that
    user; changing one's own password needs `current_password` too."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"policy_name"})

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    password: NewPassword | None = None
    current_password: LoginPassword | None = None
    role_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    policy_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    enabled: Flag | None = None
    notes: Annotated[str, StringConstraints(max_length=4000)] | None = None


class UserOut(OutModel):
    id: int
    tenant_id: int
    user_login: str
    name: str
    is_local: FlagOut
    enabled: FlagOut
    role_name: str
    policy_id: int | None = None
    policy_name: str | None = None
    auth_server: str | None = None
    notes: str
    created: str
    updated: str


class UserItemOut(OutModel):
    id: int
    user_login: str
    name: str
    role_name: str
    is_local: FlagOut


class RespUserCreated(OutModel):
    stored_data: dict[str, int]


class ComponentReachable(OutModel):
    msg: str
    reachable: FlagOut


class ComponentRunning(OutModel):
    msg: str
    running: FlagOut


class LoadComponent(OutModel):
    msg: Literal["OK", "high load", "unable to retrieve loadavg"]
    avg_1: float | None = None
    avg_5: float | None = None
    avg_15: float | None = None


class HealthComponents(OutModel):
    db_internal: ComponentReachable
    work_queue: ComponentRunning
    secrets: ComponentReachable
    load: LoadComponent


class BrokerStatus(OutModel):
    hostname: str
    msg: Literal["OK", "not OK"]


class SystemHealth(OutModel):
    components: HealthComponents
    broker: BrokerStatus


