"""Sessions, tenants, users and system health (reference: session_login, UserAdd, SystemHealth)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chalicelib.schemas.common import Flag, FlagOut, Name, OutModel, StrictModel

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


class TenantBody(StrictModel):
    name: Name
    notes: Annotated[str, StringConstraints(max_length=4095)] = ""


class TenantOut(OutModel):
    id: int
    name: str
    notes: str
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


class UserOut(OutModel):
    id: int
    tenant_id: int
    user_login: str
    name: str
    is_local: FlagOut
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


