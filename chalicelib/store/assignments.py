"""The end-user side of the tables: claiming and releasing desktops, the state a login reads, login
domains, revoked client tokens, pending pool checks and a login's audit events.

A claim is one conditional UpdateItem on the desktop (unassigned AND available AND active AND in a
usable power state), so two logins racing for one desktop can never both win (ARCHITECTURE.md
invariant 1). Claims and releases also add one to `version`, so a writer holding an older copy of
the desktop (a `save()` with pynamodb's version check) is refused instead of undoing the assignment;
they do not check the version themselves, so a concurrent power-state update never makes a claim fail.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.constants import ALL_NEW
from pynamodb.exceptions import DeleteError, PutError, UpdateError

from chalicelib.domain.lockout import FailureState
from chalicelib.domain.offer import ACTIVE, UNUSABLE_POWER_STATES
from chalicelib.store.binding import ensure_bound, transaction
from chalicelib.store.desktops import pool_key, user_key
from chalicelib.store.models import AuditRecord, DesktopRecord, MarkerRecord, NameRecord, UserRecord
from chalicelib.store.repos import name_key, utc_now_iso

CONDITION_FAILED = "ConditionalCheckFailedException"
SYSTEM_TENANT_ID = 0
DOMAIN_KIND = "domain"
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit of actions in one TransactWriteItems
TENANT_KIND = "tenant"


def _condition_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == CONDITION_FAILED


def _update_if(tenant_id: int, desktop_id: int, actions: list[Any], condition: Any) -> DesktopRecord | None:
    """One conditional UpdateItem on a desktop: the record as written, or None when the condition failed."""
    try:
        data = DesktopRecord._get_connection().update_item(
            str(tenant_id),  # key values as DynamoDB's JSON protocol wants numbers: strings
            str(desktop_id),
            actions=actions,
            condition=condition,
            return_values=ALL_NEW,
        )
    except UpdateError as error:
        if _condition_failed(error):
            return None
        raise
    return DesktopRecord.from_raw_data(data["Attributes"])


# --------------------------------------------------------------------------------------------- desktops


class DesktopClaims:
    """Claims and releases, and the two reads a login makes (the user's desktops, a pool's free ones)."""

    @staticmethod
    def claimable_condition(user_id: int | None = None) -> Any:
        """Free, available, active, usable. With `user_id`, a desktop already assigned to that user passes
        too, which makes a claim idempotent: when botocore retries an UpdateItem whose first attempt was
        applied but whose answer was lost (a timeout), the retry succeeds instead of reading as a lost race
        and leaving the desktop assigned to a user who was told "none available"."""
        unassigned = DesktopRecord.assigned_user_id.does_not_exist()
        if user_id is not None:
            unassigned = unassigned | (DesktopRecord.assigned_user_id == user_id)
        return (
            unassigned
            & (DesktopRecord.available == True)  # noqa: E712 - a pynamodb condition, not a comparison
            & (DesktopRecord.lifecycle == ACTIVE)
            & ~DesktopRecord.power_state.is_in(*sorted(UNUSABLE_POWER_STATES))
        )

    def held_by(self, tenant_id: int, user_id: int) -> list[DesktopRecord]:
        """The desktops assigned to the user (the sparse by_user index; eventually consistent)."""
        ensure_bound()
        return list(DesktopRecord.by_user.query(user_key(tenant_id, user_id)))

    def free_in_pool(self, tenant_id: int, pool_id: int) -> list[DesktopRecord]:
        """The pool's desktops that looked claimable when the index was last updated (one Query)."""
        ensure_bound()
        return list(
            DesktopRecord.by_pool.query(
                pool_key(tenant_id, pool_id), filter_condition=self.claimable_condition()
            )
        )

    def get(self, tenant_id: int, desktop_id: int) -> DesktopRecord | None:
        ensure_bound()
        try:
            return DesktopRecord.get(tenant_id, desktop_id, consistent_read=True)
        except DesktopRecord.DoesNotExist:
            return None

    def claim(
        self, tenant_id: int, desktop_id: int, user_id: int, now: int | None = None
    ) -> DesktopRecord | None:
        """Assign the desktop to the user if it is still free; None when another login got it first."""
        ensure_bound()
        now = int(now if now is not None else time.time())
        actions = [
            DesktopRecord.assigned_user_id.set(user_id),
            DesktopRecord.user_key.set(user_key(tenant_id, user_id)),
            DesktopRecord.last_offered.set(now),
            DesktopRecord.updated.set(utc_now_iso()),
            DesktopRecord.version.add(1),
        ]
        return _update_if(tenant_id, desktop_id, actions, self.claimable_condition(user_id))

    def release(self, tenant_id: int, desktop_id: int, user_id: int) -> DesktopRecord | None:
        """Take the desktop back from the user; None when it is not (or no longer) theirs."""
        ensure_bound()
        actions = [
            DesktopRecord.assigned_user_id.remove(),
            DesktopRecord.user_key.remove(),
            DesktopRecord.last_user_key.set(user_key(tenant_id, user_id)),
            DesktopRecord.updated.set(utc_now_iso()),
            DesktopRecord.version.add(1),
        ]
        released = _update_if(tenant_id, desktop_id, actions, DesktopRecord.assigned_user_id == user_id)
        if released is not None:
            return released
        # A retried release whose first attempt was applied: the desktop is free and we were last.
        current = self.get(tenant_id, desktop_id)
        if (current is not None and current.assigned_user_id is None
                and current.last_user_key == user_key(tenant_id, user_id)):
            return current
        return None


# ------------------------------------------------------------------------------------------ pool checks


def pending_check_key(tenant_id: int, pool_id: int) -> str:
    return f"check-pending#{tenant_id}#{pool_id}"


class PendingChecks:
    """At most one queued provisioning check per pool: a marker that expires by itself."""

    def try_mark(self, tenant_id: int, pool_id: int, seconds: int, now: float | None = None) -> bool:
        """True when no check was pending (so the caller should queue one); the marker lasts `seconds`."""
        ensure_bound()
        now = int(now if now is not None else time.time())
        nonce = secrets.randbelow(2**52)  # makes a retried write of this same marker pass its condition
        marker = MarkerRecord(
            key=pending_check_key(tenant_id, pool_id),
            value=nonce,
            until=now + seconds,
            expires_at=datetime.fromtimestamp(now + seconds + 3600, UTC),
        )
        free = MarkerRecord.key.does_not_exist() | (MarkerRecord.until <= now) | (MarkerRecord.value == nonce)
        try:
            marker.save(condition=free)
        except PutError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def clear(self, tenant_id: int, pool_id: int) -> None:
        ensure_bound()
        MarkerRecord(key=pending_check_key(tenant_id, pool_id)).delete()


def clear_pending_check(tenant_id: int, pool_id: int) -> None:
    """For the worker: call at the start of a pool check, so a login after it queues the next one."""
    PendingChecks().clear(tenant_id, pool_id)


# --------------------------------------------------------------------------------------- login state


def failures_key(tenant_id: int, login: str) -> str:
    return f"login-failures#{tenant_id}#{login}"


@dataclass
class LoginState:
    user: UserRecord | None
    failures: FailureState = field(default_factory=FailureState)


def _failure_state(marker: MarkerRecord | None) -> FailureState:
    if marker is None:
        return FailureState()
    return FailureState(
        failures=int(marker.value or 0),
        window_start=None if marker.since is None else float(marker.since),
        locked_until=None if marker.until is None else float(marker.until),
    )


class LoginStates:
    """What a login reads first, the user and the login's failure record, in one BatchGetItem."""

    def read(self, tenant_id: int, login: str) -> LoginState:
        ensure_bound()
        users_table = UserRecord.Meta.table_name
        markers_table = MarkerRecord.Meta.table_name
        request: dict[str, Any] = {
            users_table: {
                "Keys": [{"tenant_id": {"N": str(tenant_id)}, "login": {"S": login}}],
                "ConsistentRead": True,
            },
            markers_table: {"Keys": [{"key": {"S": failures_key(tenant_id, login)}}], "ConsistentRead": True},
        }
        connection = UserRecord._get_connection().connection
        user: UserRecord | None = None
        marker: MarkerRecord | None = None
        for _ in range(5):
            answer = connection.dispatch("BatchGetItem", {"RequestItems": request})
            for item in answer.get("Responses", {}).get(users_table, []):
                user = UserRecord.from_raw_data(item)
            for item in answer.get("Responses", {}).get(markers_table, []):
                marker = MarkerRecord.from_raw_data(item)
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05)
        return LoginState(user, _failure_state(marker))

    def add_failure(
        self, tenant_id: int, login: str, window_seconds: int, keep_seconds: int, now: float | None = None
    ) -> FailureState:
        """Count one failure atomically: inside the current window add one, else start a new window."""
        ensure_bound()
        now = int(now if now is not None else time.time())
        record = MarkerRecord(key=failures_key(tenant_id, login))
        expires = MarkerRecord.expires_at.set(datetime.fromtimestamp(now + keep_seconds, UTC))
        for _ in range(4):
            try:
                record.update(
                    actions=[MarkerRecord.value.add(1), expires],
                    condition=MarkerRecord.since > now - window_seconds,
                )
                return _failure_state(record)
            except UpdateError as error:
                if not _condition_failed(error):
                    raise
            window_over = MarkerRecord.since.does_not_exist() | (MarkerRecord.since <= now - window_seconds)
            try:
                record.update(
                    actions=[MarkerRecord.value.set(1), MarkerRecord.since.set(now), expires],
                    condition=window_over,
                )
                return _failure_state(record)
            except UpdateError as error:
                if not _condition_failed(error):
                    raise
            # another failure opened a window between the two writes: count into it
        raise RuntimeError("could not record a login failure")  # pragma: no cover - four races in a row

    def lock(
        self, tenant_id: int, login: str, until: int, keep_seconds: int, now: float | None = None
    ) -> None:
        """Lock the login until `until` and start counting afresh."""
        ensure_bound()
        now = int(now if now is not None else time.time())
        MarkerRecord(key=failures_key(tenant_id, login)).update(
            actions=[
                MarkerRecord.value.set(0),
                MarkerRecord.since.remove(),
                MarkerRecord.until.set(until),
                MarkerRecord.expires_at.set(datetime.fromtimestamp(max(until, now) + keep_seconds, UTC)),
            ]
        )

    def clear(self, tenant_id: int, login: str) -> None:
        ensure_bound()
        try:
            MarkerRecord(key=failures_key(tenant_id, login)).delete()
        except DeleteError as error:  # pragma: no cover - a delete has no condition
            if not _condition_failed(error):
                raise


# ------------------------------------------------------------------------------------- client tokens


class RevokedTokens:
    """Client tokens ended by a logout, kept until they would have expired anyway."""

    @staticmethod
    def _key(jti: str) -> str:
        return f"revoked#{jti}"

    def revoke(self, jti: str, expires_at: int) -> None:
        ensure_bound()
        MarkerRecord(
            key=self._key(jti), until=expires_at, expires_at=datetime.fromtimestamp(expires_at, UTC)
        ).save()

    def is_revoked(self, jti: str) -> bool:
        ensure_bound()
        try:
            MarkerRecord.get(self._key(jti), consistent_read=True)
        except MarkerRecord.DoesNotExist:
            return False
        return True


# ------------------------------------------------------------------------------------- login domains


@dataclass(frozen=True)
class DomainMatch:
    """What a login domain names: an authentication server of a tenant, or a tenant by its name."""

    tenant_id: int
    auth_server_id: int | None


class LoginDomains:
    """Login domains are reserved in the names table as `0#domain#<domain>` -> (tenant, server), so
    one domain names one authentication server across all tenants."""

    @staticmethod
    def key(domain: str) -> str:
        return name_key(SYSTEM_TENANT_ID, DOMAIN_KIND, domain)

    def lookup(self, domain: str) -> DomainMatch | None:
        """The server holding the domain, else the tenant of that name (one BatchGetItem)."""
        ensure_bound()
        domain_key = self.key(domain)
        tenant_key = name_key(SYSTEM_TENANT_ID, TENANT_KIND, domain)
        found = {r.key: r for r in NameRecord.batch_get([domain_key, tenant_key])}
        if domain_key in found:
            return DomainMatch(int(found[domain_key].tenant_id), int(found[domain_key].ref_id))
        if tenant_key in found:
            return DomainMatch(int(found[tenant_key].ref_id), None)
        return None

    def tenant_named(self, domain: str) -> int | None:
        ensure_bound()
        try:
            return int(NameRecord.get(name_key(SYSTEM_TENANT_ID, TENANT_KIND, domain)).ref_id)
        except NameRecord.DoesNotExist:
            return None

    def reserve(self, domain: str, tenant_id: int, auth_server_id: int) -> bool:
        """False when the domain is already taken (by another server or this one)."""
        ensure_bound()
        try:
            NameRecord(
                key=self.key(domain), tenant_id=tenant_id, kind=DOMAIN_KIND, ref_id=auth_server_id
            ).save(condition=NameRecord.key.does_not_exist())
        except PutError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def release(self, domain: str, auth_server_id: int) -> None:
        """Free the domain if this server holds it."""
        ensure_bound()
        try:
            NameRecord(key=self.key(domain)).delete(condition=NameRecord.ref_id == auth_server_id)
        except DeleteError as error:
            if not _condition_failed(error):
                raise


# ----------------------------------------------------------------------------------- audit of a login


@dataclass(frozen=True)
class AuditEvent:
    tenant_id: int
    type: str
    message: str
    user: str | None = None
    pool_id: int | None = None
    desktop_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def write_audit_events(events: Iterable[AuditEvent], retention_days: int) -> None:
    """Write a login's audit events (the login, each assignment) in one TransactWriteItems of Puts
    (per 100 events): a transaction's Put needs only PutItem on the audit table, where BatchWriteItem
    would need a permission that can delete events too (docs/deploy.md, "IAM")."""
    ensure_bound()
    now = datetime.now(UTC)
    expires = datetime.fromtimestamp(now.timestamp() + retention_days * 86400, UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    pending = list(events)
    for start in range(0, len(pending), MAX_TRANSACTION_ITEMS):
        _put_audit_events(pending[start : start + MAX_TRANSACTION_ITEMS], stamp, expires)


def _put_audit_events(events: list[AuditEvent], stamp: str, expires: datetime) -> None:
    with transaction() as tx:
        for event in events:
            tx.save(
                AuditRecord(
                    tenant_id=event.tenant_id,
                    event_key=f"{stamp}#{uuid.uuid4().hex[:12]}",
                    type=event.type,
                    message=event.message,
                    user=event.user,
                    pool_id=event.pool_id,
                    desktop_id=event.desktop_id,
                    details=event.details,
                    expires_at=expires,
                )
            )
