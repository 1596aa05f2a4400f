"""Centers: save the definition, keep the password in Secrets Manager, report status and inventory.

The HTTP path never talks to the cloud: saving queues a credentials check that the worker runs.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.domain import messages
from chalicelib.domain import provisioning as rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.cloud import CenterAccess, CloudAuthFailed, CloudError
from chalicelib.domain.endpoints import CLEARTEXT_FLAG, sends_in_clear, why_secret_needed_again
from chalicelib.domain.errors import BadData, Conflict, ErrorList, NotFound, NotUnique, ServiceUnavailable
from chalicelib.domain.kinds import CENTER_TYPE_LABELS, UNCATEGORIZED, CenterType
from chalicelib.schemas.centers import (
    CenterCreate,
    CenterUpdate,
    UncategorizedCenterCreate,
    UncategorizedCenterUpdate,
)
from chalicelib.services import audit, desktops
from chalicelib.store import stores
from chalicelib.store.models import CenterRecord
from chalicelib.store.secrets import secret_name

log = logging.getLogger("broker.centers")

DEFINITION_FIELDS = ("auth_url", "domain", "project", "username", "region", "network_uuid", "notes",
                     "poll_interval", "build_limit", CLEARTEXT_FLAG)
# What a center stored before a field existed shows as that field's default.
_DEFINITION_DEFAULTS: dict[str, Any] = {"poll_interval": 5, "build_limit": rules.DEFAULT_CENTER_BUILD_LIMIT,
                                        CLEARTEXT_FLAG: 0}
_warned_cleartext: set[tuple[int, int]] = set()
UNCATEGORIZED_FLAGS = {"init_unavailable": 0, "offer_vms": 1}

# status codes shown with status_label
STATUS_ONLINE, STATUS_OFFLINE, STATUS_PENDING, STATUS_INACTIVE = 0, 1, 2, 3


def center_secret_name(tenant_id: int, center_id: int) -> str:
    return secret_name("center", tenant_id, center_id)


def _check_type(path_type: str, body_type: str | None) -> None:
    if body_type is not None and body_type != path_type:
        raise BadData.field("/body/type", f"must be '{path_type}' for this endpoint")


def is_uncategorized(doc: dict[str, Any]) -> bool:
    return doc.get("type") == UNCATEGORIZED


def definition_of(record: CenterRecord) -> dict[str, Any]:
    """The center's settings as the admin API shows them (`center_definition`), without the password."""
    doc = record.doc
    if is_uncategorized(doc):
        return {"name": record.name, "type": UNCATEGORIZED, "notes": doc.get("notes", ""), "poll_interval": 0,
                **{f: int(doc.get(f, default)) for f, default in UNCATEGORIZED_FLAGS.items()}}
    return {"name": record.name, "type": doc.get("type", ""),
            **{f: doc.get(f, _DEFINITION_DEFAULTS.get(f, "")) for f in DEFINITION_FIELDS}}


def create_center(caller: Caller, center_type: str, body: CenterCreate) -> CenterRecord:
    _check_type(center_type, body.type)
    if stores.centers.name_taken(caller.tenant_id, body.name):
        raise NotUnique(f"A center named '{body.name}' already exists", "name")
    doc: dict[str, Any] = {"type": center_type, "active": body.active, "status": STATUS_PENDING,
                           "status_message": "Waiting for the first credentials check"}
    doc.update({f: getattr(body, f) for f in DEFINITION_FIELDS})
    errors = ErrorList()
    _check_cleartext(doc, errors)
    errors.raise_if_any("Center cannot be saved, some input data is not valid.")
    record = stores.centers.create(caller.tenant_id, body.name, doc)
    try:
        stores.secrets.put(center_secret_name(caller.tenant_id, int(record.id)), body.password)
    except ServiceUnavailable:
        stores.centers.delete(record)  # no center without its secret
        raise
    _queue_check(record, "center created")
    audit.record(caller.tenant_id, "center.created", f"Center '{record.name}' created{_cleartext_note(doc)}",
                 user=caller.login, details={"center_id": int(record.id), "type": center_type,
                                             **_cleartext_details(doc)})
    return record


def update_center(caller: Caller, center_type: str, center_id: int, body: CenterUpdate) -> CenterRecord:
    record = stores.centers.get(caller.tenant_id, center_id)
    if record.doc.get("type") != center_type:
        # /centers/virtuozzo/{id} names a VHI center: an OpenStack one is simply not there.
        raise NotFound(f"No {CENTER_TYPE_LABELS[center_type]} center {center_id}")
    _check_type(center_type, body.type)
    doc = dict(record.doc)
    changes = body.model_dump(exclude_none=True, exclude={"id", "type", "name", "password"})
    doc.update(changes)
    errors = ErrorList()
    if body.password is None:
        _require_password_for_new_recipient(record.doc, doc, errors)
    _check_cleartext(doc, errors)
    errors.raise_if_any("Center cannot be saved, some input data is not valid.")
    if body.password is not None:
        stores.secrets.put(center_secret_name(caller.tenant_id, center_id), body.password)
    access_changed = body.password is not None or any(
        f in changes for f in ("auth_url", "domain", "project", "username", "region")
    )
    if access_changed:
        doc.update(status=STATUS_PENDING, status_message="Waiting for a credentials check")
    record = stores.centers.update(record, body.name or record.name, doc)
    _queue_check(record, "center updated")
    fields = sorted({*changes, *(["password"] if body.password is not None else [])})
    audit.record(caller.tenant_id, "center.updated", f"Center '{record.name}' updated{_cleartext_note(doc)}",
                 user=caller.login, details={"center_id": center_id, "fields": fields,
                                             **_cleartext_details(doc)})
    return record


def create_uncategorized(caller: Caller, body: UncategorizedCenterCreate) -> CenterRecord:
    """A center of desktops registered by hand (`POST /rest/v1/desktops`): no cloud, no password, nothing
    to check or scan, so it is online from the start."""
    definition = body.center_definition
    if stores.centers.name_taken(caller.tenant_id, definition.name):
        raise NotUnique(f"A center named '{definition.name}' already exists", "name")
    doc: dict[str, Any] = {"type": UNCATEGORIZED, "active": 1, "status": STATUS_ONLINE, "status_message": "",
                           "poll_interval": 0, "notes": definition.notes,
                           **{f: getattr(definition, f) for f in UNCATEGORIZED_FLAGS}}
    record = stores.centers.create(caller.tenant_id, definition.name, doc)
    audit.record(caller.tenant_id, "center.created", f"Center '{record.name}' created", user=caller.login,
                 details={"center_id": int(record.id), "type": UNCATEGORIZED})
    return record


def update_uncategorized(caller: Caller, center_id: int, body: UncategorizedCenterUpdate) -> CenterRecord:
    record = stores.centers.get(caller.tenant_id, center_id)
    if not is_uncategorized(record.doc):
        raise NotFound(f"No uncategorized center {center_id}")
    changes = body.center_definition.model_dump(exclude_unset=True, exclude={"name", "type"}) \
        if body.center_definition is not None else {}
    name = (body.center_definition.name if body.center_definition is not None else None) or record.name
    record = stores.centers.update(record, name, {**record.doc, **changes})
    audit.record(caller.tenant_id, "center.updated", f"Center '{record.name}' updated", user=caller.login,
                 details={"center_id": center_id, "fields": sorted(changes)})
    return record


def _require_password_for_new_recipient(before: dict[str, Any], after: dict[str, Any],
                                        errors: ErrorList) -> None:
    """The stored password goes only where it was given for (chalicelib/domain/endpoints.py)."""
    reason = why_secret_needed_again([before.get("auth_url", "")], [after.get("auth_url", "")],
                                     _account(before), _account(after))
    if reason:
        errors.add("/body/password", f"Give the password again: {reason}")


def _account(doc: dict[str, Any]) -> list[str]:
    return [str(doc.get("username") or ""), str(doc.get("domain") or "Default")]


def _cleartext(doc: dict[str, Any]) -> bool:
    return sends_in_clear(str(doc.get("auth_url") or ""))


def _check_cleartext(doc: dict[str, Any], errors: ErrorList) -> None:
    if _cleartext(doc) and not doc.get(CLEARTEXT_FLAG):
        errors.add("/body/auth_url", f"http:// sends the password in clear; use https://, or set "
                                     f"{CLEARTEXT_FLAG} = 1 to accept that risk")


def _cleartext_note(doc: dict[str, Any]) -> str:
    return f" (sends its password in clear: {CLEARTEXT_FLAG} = 1)" if _cleartext(doc) else ""


def _cleartext_details(doc: dict[str, Any]) -> dict[str, int]:
    return {CLEARTEXT_FLAG: int(bool(doc.get(CLEARTEXT_FLAG)))}


def delete_center(caller: Caller, center_id: int) -> None:
    record = stores.centers.get(caller.tenant_id, center_id)
    if is_uncategorized(record.doc) and desktops.registered_in(caller.tenant_id, center_id):
        raise Conflict(f"Center {center_id} still has registered desktops; remove them first")
    users = [int(p.id) for p in stores.pools.iterate(caller.tenant_id) if _pool_uses_center(p.doc, center_id)]
    if users:
        raise Conflict(f"Center {center_id} is used by pool(s) {', '.join(map(str, users))}; "
                       "change them first")
    stores.centers.delete(record)
    stores.secrets.delete(center_secret_name(caller.tenant_id, center_id))
    audit.record(caller.tenant_id, "center.deleted", f"Center '{record.name}' deleted", user=caller.login,
                 details={"center_id": center_id})


def _pool_uses_center(pool_doc: dict[str, Any], center_id: int) -> bool:
    definition = pool_doc.get("pool_definition") or {}
    provision_center = (pool_doc.get("provision") or {}).get("center") or {}
    return center_id in (definition.get("server_ids") or []) or provision_center.get("id") == center_id


def request_scan(caller: Caller, center_id: int) -> tuple[CenterRecord, int]:
    record = stores.centers.get(caller.tenant_id, center_id)
    job_id = _queue_scan(record, f"scan requested by {caller.login}")
    return record, job_id


def _queue_check(record: CenterRecord, reason: str) -> None:
    """The center is saved already; an unreachable queue leaves it "Pending check" rather than turning
    the saved change into an error."""
    try:
        stores.queue.send(messages.center_check(int(record.tenant_id), int(record.id), reason))
    except ServiceUnavailable:
        log.warning("center check not queued", extra={"tenant_id": int(record.tenant_id),
                                                        "center_id": int(record.id)})


def _queue_scan(record: CenterRecord, reason: str) -> int:
    from chalicelib.store.repos import next_id

    job_id = next_id("job")
    message = messages.center_scan(int(record.tenant_id), int(record.id), reason)
    message["job_id"] = job_id
    stores.queue.send(message)
    return job_id


def center_access(record: CenterRecord) -> CenterAccess:
    """Settings and secret together, for the worker only (never returned by the API). A center saved
    with an http:// auth_url before the flag existed is refused here too (it shows as offline)."""
    doc = record.doc
    key = (int(record.tenant_id), int(record.id))
    if is_uncategorized(doc):  # never reached through the callers, who check first: a last guard
        raise CloudError(f"Center {record.id} is uncategorized: it has no cloud")
    if _cleartext(doc):
        if not doc.get(CLEARTEXT_FLAG):
            raise CloudAuthFailed(f"http:// Keystone would get the password in clear; use https:// or set "
                                  f"{CLEARTEXT_FLAG} = 1")
        if key not in _warned_cleartext:  # once per process: the audit has it at every save
            _warned_cleartext.add(key)
            log.warning("center sends its password in clear", extra={
                "tenant_id": key[0], "center_id": key[1], CLEARTEXT_FLAG: 1})
    password = stores.secrets.get(center_secret_name(*key))
    if password is None:
        raise ServiceUnavailable(f"The password of center {record.id} is missing from Secrets Manager")
    return CenterAccess(
        auth_url=doc["auth_url"],
        domain=doc.get("domain") or "Default",
        project=doc["project"],
        username=doc["username"],
        password=password,
        region=doc.get("region") or None,
        center_type=CenterType(doc.get("type", "openstack")),
    )


def has_cloud(record: CenterRecord) -> bool:
    """Whether the center is a cloud the broker checks, scans and provisions in (not uncategorized)."""
    return not is_uncategorized(record.doc)


def status_label(doc: dict[str, Any]) -> str:
    status = doc.get("status", STATUS_PENDING)
    if not doc.get("active", 1):
        return "Inactive"
    if status == STATUS_ONLINE:
        return "Online"
    if status == STATUS_OFFLINE:
        return f"Offline: {doc.get('status_message') or 'unreachable'}"
    return "Pending check"


def list_centers(caller: Caller) -> list[CenterRecord]:
    return stores.centers.list(caller.tenant_id)


def get_center(caller: Caller, center_id: int) -> CenterRecord:
    return stores.centers.get(caller.tenant_id, center_id)
