"""Centers: save the definition, keep the password in Secrets Manager, report status and inventory.

The HTTP path never talks to the cloud: saving queues a credentials check that the worker runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.domain import messages
from chalicelib.domain.caller import Caller
from chalicelib.domain.cloud import CenterAccess, CloudAuthFailed, CloudError
from chalicelib.domain.endpoints import CLEARTEXT_FLAG, sends_in_clear, why_secret_needed_again
from chalicelib.domain.entities.centers import STATUS_OFFLINE, STATUS_ONLINE, STATUS_PENDING, Center
from chalicelib.domain.errors import BadData, Conflict, ErrorList, NotFound, NotUnique, ServiceUnavailable
from chalicelib.domain.kinds import CENTER_TYPE_LABELS, UNCATEGORIZED, CenterType
from chalicelib.schemas.centers import (
    CenterCreate,
    CenterDefinitionUpdate,
    CenterUpdate,
    UncategorizedCenterCreate,
    UncategorizedCenterUpdate,
)
from chalicelib.services import audit, desktops
from chalicelib.store import stores
from chalicelib.store.secrets import secret_name

log = logging.getLogger("broker.centers")

# The reference's names (center_definition) and the names the record keeps them under: the adapter's
# (CenterAccess), which centers stored before the reference's shape was adopted already use.
STORED_AS = {"vc_url": "auth_url", "vc_name": "username", "vc_domain": "domain",
             "vc_project_domain": "project_domain", "vc_datacenter": "project", "vc_version": "region"}
# Our extensions, stored and shown under one name.
EXTENSION_FIELDS = ("network_uuid", "notes", "poll_interval", "build_limit", CLEARTEXT_FLAG)
# Changing one of these asks for a new credentials check.
ACCESS_FIELDS = ("auth_url", "domain", "project_domain", "project", "username", "region")
PASSWORD_PATH = "/body/center_definition/vc_password"  # noqa: S105 - where it goes, not a password
URL_PATH = "/body/center_definition/vc_url"
NAME_PATH = "/body/center_definition/name"
_warned_cleartext: set[tuple[int, int]] = set()


def center_secret_name(tenant_id: int, center_id: int) -> str:
    return secret_name("center", tenant_id, center_id)


def _check_type(path_type: str, body_type: str | None) -> None:
    if body_type is not None and body_type != path_type:
        raise BadData.field("/body/center_definition/type", f"must be '{path_type}' for this endpoint")


def _stored(definition: dict[str, Any]) -> dict[str, Any]:
    """The record's names for the fields of a `center_definition`."""
    return {STORED_AS.get(field, field): value for field, value in definition.items()}


def user_domain_of(center: Center) -> str:
    return center.domain or "Default"


def project_domain_of(center: Center) -> str:
    """Centers stored before the project domain existed scoped their project in the user's domain."""
    return center.project_domain or user_domain_of(center)


def is_uncategorized(center: Center) -> bool:
    return center.type == UNCATEGORIZED


def definition_of(center: Center) -> dict[str, Any]:
    """The center's settings as the admin API shows them (`center_definition`), without the password."""
    if is_uncategorized(center):
        return {"name": center.name, "type": UNCATEGORIZED, "notes": center.notes, "poll_interval": 0,
                "init_unavailable": int(center.init_unavailable), "offer_vms": int(center.offer_vms)}
    shown = {field: getattr(center, stored) for field, stored in STORED_AS.items()}
    shown["vc_domain"] = user_domain_of(center)
    shown["vc_project_domain"] = project_domain_of(center)
    return {"name": center.name, "type": center.type, **shown,
            **{f: getattr(center, f) for f in EXTENSION_FIELDS}}


def create_center(caller: Caller, center_type: str, body: CenterCreate) -> Center:
    definition = body.center_definition
    _check_type(center_type, definition.type)
    if stores.centers.name_taken(caller.tenant_id, definition.name):
        raise NotUnique(f"A center named '{definition.name}' already exists", NAME_PATH)
    settings = _stored(definition.model_dump(exclude={"name", "type", "vc_password"}))
    # Left out, the project domain is the user's, kept as given: moving the user later leaves it.
    settings["project_domain"] = settings["project_domain"] or settings["domain"]
    draft = Center(tenant_id=caller.tenant_id, name=definition.name, type=center_type, active=body.active,
                   status=STATUS_PENDING, status_message="Waiting for the first credentials check",
                   **settings)
    errors = ErrorList()
    _check_cleartext(draft, errors)
    errors.raise_if_any("Center cannot be saved, some input data is not valid.")
    center = _created(draft)
    try:
        stores.secrets.put(center_secret_name(caller.tenant_id, center.id), definition.vc_password)
    except ServiceUnavailable:
        stores.centers.delete(center)  # no center without its secret
        raise
    _queue_check(center, "center created")
    audit.record(caller.tenant_id, "center.created",
                 f"Center '{center.name}' created{_cleartext_note(center)}", user=caller.login,
                 details={"center_id": center.id, "type": center_type, **_cleartext_details(center)})
    return center


def update_center(caller: Caller, center_type: str, center_id: int, body: CenterUpdate) -> Center:
    before = stores.centers.get(caller.tenant_id, center_id)
    if before.type != center_type:
        # /centers/virtuozzo/{id} names a VHI center: an OpenStack one is simply not there.
        raise NotFound(f"No {CENTER_TYPE_LABELS[center_type]} center {center_id}")
    definition = body.center_definition or CenterDefinitionUpdate()
    _check_type(center_type, definition.type)
    given = definition.model_dump(exclude_none=True, exclude={"type", "name", "vc_password"})
    changes = _stored(given)
    pinned = replace(before, project_domain=project_domain_of(before))  # stored before it existed: pin it
    after = replace(pinned, name=definition.name or before.name, **changes)
    if body.active is not None:
        after = replace(after, active=body.active)
    password = definition.vc_password
    errors = ErrorList()
    if password is None:
        _require_password_for_new_recipient(before, after, errors)
    _check_cleartext(after, errors)
    errors.raise_if_any("Center cannot be saved, some input data is not valid.")
    if password is not None:
        stores.secrets.put(center_secret_name(caller.tenant_id, center_id), password)
    if password is not None or any(f in changes for f in ACCESS_FIELDS):
        after = replace(after, status=STATUS_PENDING, status_message="Waiting for a credentials check")
    center = _saved(before, after)
    _queue_check(center, "center updated")
    fields = sorted({*given, *(["vc_password"] if password is not None else []),
                     *(["active"] if body.active is not None else [])})
    audit.record(caller.tenant_id, "center.updated",
                 f"Center '{center.name}' updated{_cleartext_note(center)}", user=caller.login,
                 details={"center_id": center_id, "fields": fields, **_cleartext_details(center)})
    return center


def create_uncategorized(caller: Caller, body: UncategorizedCenterCreate) -> Center:
    """A center of desktops registered by hand (`POST /rest/v1/desktops`): no cloud, no password, nothing
    to check or scan, so it is online from the start."""
    definition = body.center_definition
    if stores.centers.name_taken(caller.tenant_id, definition.name):
        raise NotUnique(f"A center named '{definition.name}' already exists", NAME_PATH)
    center = _created(Center(tenant_id=caller.tenant_id, name=definition.name, type=UNCATEGORIZED, active=1,
                             status=STATUS_ONLINE, status_message="", poll_interval=0, notes=definition.notes,
                             init_unavailable=definition.init_unavailable, offer_vms=definition.offer_vms))
    audit.record(caller.tenant_id, "center.created", f"Center '{center.name}' created", user=caller.login,
                 details={"center_id": center.id, "type": UNCATEGORIZED})
    return center


def update_uncategorized(caller: Caller, center_id: int, body: UncategorizedCenterUpdate) -> Center:
    before = stores.centers.get(caller.tenant_id, center_id)
    if not is_uncategorized(before):
        raise NotFound(f"No uncategorized center {center_id}")
    changes = body.center_definition.model_dump(exclude_unset=True, exclude={"name", "type"}) \
        if body.center_definition is not None else {}
    name = (body.center_definition.name if body.center_definition is not None else None) or before.name
    center = _saved(before, replace(before, name=name, **changes))
    audit.record(caller.tenant_id, "center.updated", f"Center '{center.name}' updated", user=caller.login,
                 details={"center_id": center_id, "fields": sorted(changes)})
    return center


@contextmanager
def _name_in_definition() -> Iterator[None]:
    """The store names the field `name`; a center's name is in its definition."""
    try:
        yield
    except NotUnique as taken:
        raise NotUnique(str(taken), NAME_PATH) from None


def _saved(before: Center, after: Center) -> Center:
    with _name_in_definition():
        return stores.centers.update(before, after)


def _created(draft: Center) -> Center:
    with _name_in_definition():
        return stores.centers.create(draft)


def _require_password_for_new_recipient(before: Center, after: Center, errors: ErrorList) -> None:
    """The stored password goes only where it was given for (chalicelib/domain/endpoints.py)."""
    reason = why_secret_needed_again([before.auth_url], [after.auth_url], _account(before), _account(after))
    if reason:
        errors.add(PASSWORD_PATH, f"Give the password again: {reason}")


def _account(center: Center) -> list[str]:
    return [center.username, user_domain_of(center)]


def _cleartext(center: Center) -> bool:
    return sends_in_clear(center.auth_url)


def _check_cleartext(center: Center, errors: ErrorList) -> None:
    if _cleartext(center) and not center.allow_cleartext_password:
        errors.add(URL_PATH, f"http:// sends the password in clear; use https://, or set "
                                     f"{CLEARTEXT_FLAG} = 1 to accept that risk")


def _cleartext_note(center: Center) -> str:
    return f" (sends its password in clear: {CLEARTEXT_FLAG} = 1)" if _cleartext(center) else ""


def _cleartext_details(center: Center) -> dict[str, int]:
    return {CLEARTEXT_FLAG: int(bool(center.allow_cleartext_password))}


def delete_center(caller: Caller, center_id: int) -> None:
    center = stores.centers.get(caller.tenant_id, center_id)
    if is_uncategorized(center) and desktops.registered_in(caller.tenant_id, center_id):
        raise Conflict(f"Center {center_id} still has registered desktops; remove them first")
    users = [p.id for p in stores.pools.iterate(caller.tenant_id) if p.uses_center(center_id)]
    if users:
        raise Conflict(f"Center {center_id} is used by pool(s) {', '.join(map(str, users))}; "
                       "change them first")
    stores.centers.delete(center)
    stores.secrets.delete(center_secret_name(caller.tenant_id, center_id))
    audit.record(caller.tenant_id, "center.deleted", f"Center '{center.name}' deleted", user=caller.login,
                 details={"center_id": center_id})


def request_scan(caller: Caller, center_id: int) -> tuple[Center, int]:
    center = stores.centers.get(caller.tenant_id, center_id)
    job_id = _queue_scan(center, f"scan requested by {caller.login}")
    return center, job_id


def _queue_check(center: Center, reason: str) -> None:
    """The center is saved already; an unreachable queue leaves it "Pending check" rather than turning
    the saved change into an error."""
    try:
        stores.queue.send(messages.center_check(center.tenant_id, center.id, reason))
    except ServiceUnavailable:
        log.warning("center check not queued", extra={"tenant_id": center.tenant_id, "center_id": center.id})


def _queue_scan(center: Center, reason: str) -> int:
    from chalicelib.store.repos import next_id

    job_id = next_id("job")
    message = messages.center_scan(center.tenant_id, center.id, reason)
    message["job_id"] = job_id
    stores.queue.send(message)
    return job_id


def center_access(center: Center) -> CenterAccess:
    """Settings and secret together, for the worker only (never returned by the API). A center saved
    with an http:// auth_url before the flag existed is refused here too (it shows as offline)."""
    key = (center.tenant_id, center.id)
    if is_uncategorized(center):  # never reached through the callers, who check first: a last guard
        raise CloudError(f"Center {center.id} is uncategorized: it has no cloud")
    if _cleartext(center):
        if not center.allow_cleartext_password:
            raise CloudAuthFailed(f"http:// Keystone would get the password in clear; use https:// or set "
                                  f"{CLEARTEXT_FLAG} = 1")
        if key not in _warned_cleartext:  # once per process: the audit has it at every save
            _warned_cleartext.add(key)
            log.warning("center sends its password in clear", extra={
                "tenant_id": key[0], "center_id": key[1], CLEARTEXT_FLAG: 1})
    password = stores.secrets.get(center_secret_name(*key))
    if password is None:
        raise ServiceUnavailable(f"The password of center {center.id} is missing from Secrets Manager")
    return CenterAccess(
        auth_url=center.auth_url,
        domain=user_domain_of(center),
        project=center.project,
        project_domain=project_domain_of(center),
        username=center.username,
        password=password,
        region=center.region or None,
        center_type=CenterType(center.type),
    )


def has_cloud(center: Center) -> bool:
    """Whether the center is a cloud the broker checks, scans and provisions in (not uncategorized)."""
    return not is_uncategorized(center)


@dataclass(frozen=True)
class CenterStatus:
    code: int  # STATUS_ONLINE, STATUS_OFFLINE or STATUS_PENDING
    online: bool
    label: str  # what the admin sees; "Inactive" whatever the code when the center is switched off


def status_of(center: Center) -> CenterStatus:
    return CenterStatus(center.status, center.status == STATUS_ONLINE, _status_label(center))


def _status_label(center: Center) -> str:
    if not center.active:
        return "Inactive"
    if center.status == STATUS_ONLINE:
        return "Online"
    if center.status == STATUS_OFFLINE:
        return f"Offline: {center.status_message or 'unreachable'}"
    return "Pending check"


def list_centers(caller: Caller) -> list[Center]:
    return stores.centers.list(caller.tenant_id)


def get_center(caller: Caller, center_id: int) -> Center:
    return stores.centers.get(caller.tenant_id, center_id)
