"""Centers: save the definition, keep the password in Secrets Manager, report status and inventory.

The HTTP path never talks to the cloud: saving queues a credentials check that the worker runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
    CenterDefinitionUpdate,
    CenterUpdate,
    UncategorizedCenterCreate,
    UncategorizedCenterUpdate,
)
from chalicelib.services import audit, desktops
from chalicelib.store import stores
from chalicelib.store.models import CenterRecord
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
# What a center stored before a field existed shows as that field's default.
_DEFINITION_DEFAULTS: dict[str, Any] = {"poll_interval": 5, "build_limit": rules.DEFAULT_CENTER_BUILD_LIMIT,
                                        CLEARTEXT_FLAG: 0}
_warned_cleartext: set[tuple[int, int]] = set()
UNCATEGORIZED_FLAGS = {"init_unavailable": 0, "offer_vms": 1}

# status codes shown with status_label
STATUS_ONLINE, STATUS_OFFLINE, STATUS_PENDING = 0, 1, 2  # inactive is the `active` flag, not a status


def center_secret_name(tenant_id: int, center_id: int) -> str:
    return secret_name("center", tenant_id, center_id)


def _check_type(path_type: str, body_type: str | None) -> None:
    if body_type is not None and body_type != path_type:
        raise BadData.field("/body/center_definition/type", f"must be '{path_type}' for this endpoint")


def _stored(definition: dict[str, Any]) -> dict[str, Any]:
    """The record's names for the fields of a `center_definition`."""
    return {STORED_AS.get(field, field): value for field, value in definition.items()}


def project_domain_of(doc: dict[str, Any]) -> str:
    """Centers stored before the project domain existed scoped their project in the user's domain."""
    return str(doc.get("project_domain") or doc.get("domain") or "Default")


def is_uncategorized(doc: dict[str, Any]) -> bool:
    return doc.get("type") == UNCATEGORIZED


def definition_of(record: CenterRecord) -> dict[str, Any]:
    """The center's settings as the admin API shows them (`center_definition`), without the password."""
    doc = record.doc
    if is_uncategorized(doc):
        return {"name": record.name, "type": UNCATEGORIZED, "notes": doc.get("notes", ""), "poll_interval": 0,
                **{f: int(doc.get(f, default)) for f, default in UNCATEGORIZED_FLAGS.items()}}
    shown = {field: doc.get(stored, "") for field, stored in STORED_AS.items()}
    shown["vc_domain"] = doc.get("domain") or "Default"
    shown["vc_project_domain"] = project_domain_of(doc)
    return {"name": record.name, "type": doc.get("type", ""), **shown,
            **{f: doc.get(f, _DEFINITION_DEFAULTS.get(f, "")) for f in EXTENSION_FIELDS}}


def create_center(caller: Caller, center_type: str, body: CenterCreate) -> CenterRecord:
    definition = body.center_definition
    _check_type(center_type, definition.type)
    if stores.centers.name_taken(caller.tenant_id, definition.name):
        raise NotUnique(f"A center named '{definition.name}' already exists", NAME_PATH)
    doc: dict[str, Any] = {"type": center_type, "active": body.active, "status": STATUS_PENDING,
                           "status_message": "Waiting for the first credentials check"}
    doc.update(_stored(definition.model_dump(exclude={"name", "type", "vc_password"})))
    # Left out, the project domain is the user's, kept as given: moving the user later leaves it.
    doc["project_domain"] = doc["project_domain"] or doc["domain"]
    errors = ErrorList()
    _check_cleartext(doc, errors)
    errors.raise_if_any("Center cannot be saved, some input data is not valid.")
    record = _created(caller.tenant_id, definition.name, doc)
    try:
        stores.secrets.put(center_secret_name(caller.tenant_id, int(record.id)), definition.vc_password)
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
    definition = body.center_definition or CenterDefinitionUpdate()
    _check_type(center_type, definition.type)
    given = definition.model_dump(exclude_none=True, exclude={"type", "name", "vc_password"})
    changes = _stored(given)
    doc = dict(record.doc)
    doc.setdefault("project_domain", project_domain_of(doc))  # stored before it existed: pin what it was
    doc.update(changes)
    if body.active is not None:
        doc["active"] = body.active
    password = definition.vc_password
    errors = ErrorList()
    if password is None:
        _require_password_for_new_recipient(record.doc, doc, errors)
    _check_cleartext(doc, errors)
    errors.raise_if_any("Center cannot be saved, some input data is not valid.")
    if password is not None:
        stores.secrets.put(center_secret_name(caller.tenant_id, center_id), password)
    if password is not None or any(f in changes for f in ACCESS_FIELDS):
        doc.update(status=STATUS_PENDING, status_message="Waiting for a credentials check")
    record = _saved(record, definition.name or record.name, doc)
    _queue_check(record, "center updated")
    fields = sorted({*given, *(["vc_password"] if password is not None else []),
                     *(["active"] if body.active is not None else [])})
    audit.record(caller.tenant_id, "center.updated", f"Center '{record.name}' updated{_cleartext_note(doc)}",
                 user=caller.login, details={"center_id": center_id, "fields": fields,
                                             **_cleartext_details(doc)})
    return record


def create_uncategorized(caller: Caller, body: UncategorizedCenterCreate) -> CenterRecord:
    """A center of desktops registered by hand (`POST /rest/v1/desktops`): no cloud, no password, nothing
    to check or scan, so it is online from the start."""
    definition = body.center_definition
    if stores.centers.name_taken(caller.tenant_id, definition.name):
        raise NotUnique(f"A center named '{definition.name}' already exists", NAME_PATH)
    doc: dict[str, Any] = {"type": UNCATEGORIZED, "active": 1, "status": STATUS_ONLINE, "status_message": "",
                           "poll_interval": 0, "notes": definition.notes,
                           **{f: getattr(definition, f) for f in UNCATEGORIZED_FLAGS}}
    record = _created(caller.tenant_id, definition.name, doc)
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
    record = _saved(record, name, {**record.doc, **changes})
    audit.record(caller.tenant_id, "center.updated", f"Center '{record.name}' updated", user=caller.login,
                 details={"center_id": center_id, "fields": sorted(changes)})
    return record


@contextmanager
def _name_in_definition() -> Iterator[None]:
    """The store names the field `name`; a center's name is in its definition."""
    try:
        yield
    except NotUnique as taken:
        raise NotUnique(str(taken), NAME_PATH) from None


def _saved(record: CenterRecord, name: str, doc: dict[str, Any]) -> CenterRecord:
    with _name_in_definition():
        return stores.centers.update(record, name, doc)


def _created(tenant_id: int, name: str, doc: dict[str, Any]) -> CenterRecord:
    with _name_in_definition():
        return stores.centers.create(tenant_id, name, doc)


def _require_password_for_new_recipient(before: dict[str, Any], after: dict[str, Any],
                                        errors: ErrorList) -> None:
    """The stored password goes only where it was given for (chalicelib/domain/endpoints.py)."""
    reason = why_secret_needed_again([before.get("auth_url", "")], [after.get("auth_url", "")],
                                     _account(before), _account(after))
    if reason:
        errors.add(PASSWORD_PATH, f"Give the password again: {reason}")


def _account(doc: dict[str, Any]) -> list[str]:
    return [str(doc.get("username") or ""), str(doc.get("domain") or "Default")]


def _cleartext(doc: dict[str, Any]) -> bool:
    return sends_in_clear(str(doc.get("auth_url") or ""))


def _check_cleartext(doc: dict[str, Any], errors: ErrorList) -> None:
    if _cleartext(doc) and not doc.get(CLEARTEXT_FLAG):
        errors.add(URL_PATH, f"http:// sends the password in clear; use https://, or set "
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
        project_domain=project_domain_of(doc),
        username=doc["username"],
        password=password,
        region=doc.get("region") or None,
        center_type=CenterType(doc.get("type", "openstack")),
    )


def has_cloud(record: CenterRecord) -> bool:
    """Whether the center is a cloud the broker checks, scans and provisions in (not uncategorized)."""
    return not is_uncategorized(record.doc)


@dataclass(frozen=True)
class CenterStatus:
    code: int  # STATUS_ONLINE, STATUS_OFFLINE or STATUS_PENDING
    online: bool
    label: str  # what the admin sees; "Inactive" whatever the code when the center is switched off


def status_of(doc: dict[str, Any]) -> CenterStatus:
    return CenterStatus(int(doc.get("status", STATUS_PENDING)), doc.get("status") == STATUS_ONLINE,
                        _status_label(doc))


def _status_label(doc: dict[str, Any]) -> str:
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
