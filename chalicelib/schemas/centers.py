"""Centers: one OpenStack or VHI project each (`POST /rest/v1/centers/openstack|virtuozzo`), in the
reference's shape: `{"center_definition": {"name", "vc_url", "vc_name", "vc_password", ...}}`."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.domain.provisioning import DEFAULT_CENTER_BUILD_LIMIT, MAX_CENTER_BUILD_LIMIT
from chalicelib.schemas.common import (
    Flag,
    FlagOut,
    Name,
    Notes,
    OutModel,
    QueryModel,
    StrictModel,
    UpdateModel,
)

CenterTypeName = Literal["openstack", "virtuozzo"]
AnyCenterTypeName = Literal["openstack", "virtuozzo", "uncategorized"]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def _keystone_v3_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("must be an http:// or https:// URL of Keystone")
    if not parsed.path.rstrip("/").endswith("/v3"):
        raise ValueError("must be a Keystone v3 endpoint, ending in /v3")
    if parsed.username or parsed.password:
        raise ValueError("must not carry credentials")
    return value.rstrip("/")


def _uuid_or_empty(value: str) -> str:
    if value and not _UUID.match(value):
        raise ValueError("must be a network UUID")
    return value


AuthUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255),
                    AfterValidator(_keystone_v3_url)]
KeystoneName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=4095)]
NetworkUuid = Annotated[str, StringConstraints(strip_whitespace=True, max_length=36),
                        AfterValidator(_uuid_or_empty)]
Region = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]


# Our extension: how many of the center's instances may be building at once (a check creates at most
# that many more); the rest of a deficit is created as builds finish.
BuildLimit = Annotated[int, AfterValidator(lambda v: _between(v, 1, MAX_CENTER_BUILD_LIMIT))]
PollInterval = Annotated[int, AfterValidator(lambda v: _between(v, 1, 1440))]
# The reference gives the project domain 200 characters, the other vc_* names 255.
ProjectDomain = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CenterDefinition(StrictModel):
    """`center_definition` of an OpenStack or VHI center in the reference's names (CenterBasicAll): vc_url
    is Keystone's v3 auth URL, vc_name the user, vc_domain the user's domain, vc_project_domain the
    project's domain (the user's when left out), vc_datacenter the project, vc_version the region.
    Required as the reference's VMwareCenterAdd requires them, plus the project an OpenStack center needs."""

    name: Name
    type: CenterTypeName | None = None  # implied by the URL; if given it must agree
    vc_url: AuthUrl
    vc_name: KeystoneName
    vc_password: Password
    vc_domain: KeystoneName = "Default"
    vc_project_domain: ProjectDomain | None = None
    vc_datacenter: KeystoneName
    vc_version: Region = ""
    notes: Notes = ""
    poll_interval: PollInterval = 5
    # Our extensions: the network new desktops join by default, the build limit, and the cleartext consent
    # (an http:// vc_url sends the password in clear: refused unless this says the risk is accepted).
    network_uuid: NetworkUuid = ""
    build_limit: BuildLimit = DEFAULT_CENTER_BUILD_LIMIT
    allow_cleartext_password: Flag = 0


class CenterCreate(StrictModel):
    """`POST /centers/openstack|virtuozzo`: `{"center_definition": {...}}` as Leostream automation writes
    it; `active` beside it, where the reference's center carries it."""

    center_definition: CenterDefinition
    active: Flag = 1


class CenterDefinitionUpdate(UpdateModel):
    """Every field optional: what is not given keeps its value (the password too)."""

    nullable_fields = frozenset({"type"})

    name: Name | None = None
    type: CenterTypeName | None = None
    vc_url: AuthUrl | None = None
    vc_name: KeystoneName | None = None
    vc_password: Password | None = None
    vc_domain: KeystoneName | None = None
    vc_project_domain: ProjectDomain | None = None
    vc_datacenter: KeystoneName | None = None
    vc_version: Region | None = None
    notes: Notes | None = None
    poll_interval: PollInterval | None = None
    network_uuid: NetworkUuid | None = None
    build_limit: BuildLimit | None = None
    allow_cleartext_password: Flag | None = None


class CenterUpdate(UpdateModel):
    id: int | None = None
    center_definition: CenterDefinitionUpdate | None = None
    active: Flag | None = None


def _between(value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}")
    return value


class CenterDefinitionOut(OutModel):
    """An OpenStack or VHI center's settings (never its password); an uncategorized center has only its
    name, notes and flags."""

    name: str
    type: AnyCenterTypeName
    vc_url: str | None = Field(None, description="Keystone v3 auth URL")
    vc_name: str | None = Field(None, description="the user")
    vc_domain: str | None = Field(None, description="the user's domain")
    vc_project_domain: str | None = Field(None, description="the project's domain")
    vc_datacenter: str | None = Field(None, description="the project")
    vc_version: str | None = Field(None, description="the region")
    network_uuid: str | None = None
    notes: str
    poll_interval: int
    build_limit: int | None = None
    allow_cleartext_password: FlagOut | None = Field(
        None, description="1: the center may send its password in clear (an http:// vc_url)")
    init_unavailable: FlagOut | None = Field(
        None, description="uncategorized: desktops registered in it start unavailable")
    offer_vms: FlagOut | None = Field(None, description="uncategorized: kept for the reference's clients")


class InventoryItemOut(OutModel):
    id: str
    name: str


class FlavorOut(OutModel):
    id: str
    name: str
    vcpus: int
    ram: int
    disk: int


class NetworkOut(OutModel):
    id: str
    name: str
    external: bool


class CenterInfoOut(OutModel):
    """What the Edit Pool form's drop-downs offer for this center, as of `inventory_updated`."""

    inventory_updated: str | None = None
    images: list[InventoryItemOut] = []
    flavors: list[FlavorOut] = []
    networks: list[NetworkOut] = []
    availability_zones: list[str] = []
    security_groups: list[InventoryItemOut] = []
    volume_types: list[InventoryItemOut] = []


class CenterItemOut(OutModel):
    id: int
    name: str
    type: AnyCenterTypeName
    type_label: str
    flavor: str
    online: FlagOut
    status: int
    status_label: str


class CenterOut(CenterItemOut):
    """A center whole: the list's item, then the rest (in this order in the JSON)."""

    active: FlagOut
    center_definition: CenterDefinitionOut
    center_info: CenterInfoOut
    last_checked: str | None = None
    last_scan: str | None = None
    created: str
    updated: str


class UncategorizedDefinition(StrictModel):
    """The reference's `UncategorizedCenterBasic.center_definition`, limited to what applies here."""

    name: Name
    type: Literal["uncategorized"] | None = None
    notes: Notes = ""
    init_unavailable: Flag = 0
    offer_vms: Flag = 1


class UncategorizedDefinitionUpdate(UpdateModel):
    name: Name | None = None
    type: Literal["uncategorized"] | None = None
    notes: Notes | None = None
    init_unavailable: Flag | None = None
    offer_vms: Flag | None = None


class UncategorizedCenterCreate(StrictModel):
    """`POST /centers/uncategorized`, in the reference's shape: `{"center_definition": {"name": ...}}`."""

    center_definition: UncategorizedDefinition


class UncategorizedCenterUpdate(UpdateModel):
    id: int | None = None
    center_definition: UncategorizedDefinitionUpdate | None = None


class RespCenterCreated(OutModel):
    stored_data: CenterOut


class RespCenterScan(OutModel):
    is_scanning: FlagOut
    job_id: int
    message: str


class CenterGetQuery(QueryModel):
    short: Annotated[int, AfterValidator(lambda v: _between(v, 0, 1))] = 0
