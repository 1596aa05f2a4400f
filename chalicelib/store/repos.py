"""Repositories: the only code that reads and writes the broker's tables.

Writes that guard an invariant (unique names, optimistic versions, claims) are conditional.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError

from chalicelib.domain.errors import Conflict, NotFound, NotUnique
from chalicelib.store.binding import ensure_bound, transaction
from chalicelib.store.models import (
    AuditRecord,
    CounterRecord,
    EntityModel,
    NameRecord,
    SessionRecord,
    UserRecord,
)

E = TypeVar("E", bound=EntityModel)


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def name_key(tenant_id: int, kind: str, name: str) -> str:
    """Names are unique per tenant and kind, compared case-insensitively."""
    return f"{tenant_id}#{kind}#{name.strip().casefold()}"


def next_id(kind: str) -> int:
    """The next integer id of `kind`, from an atomic counter (ids are global, never reused)."""
    return next_ids(kind, 1)[0]


def next_ids(kind: str, count: int) -> range:
    """`count` consecutive fresh ids of `kind`, in one request."""
    ensure_bound()
    counter = CounterRecord(key=f"id#{kind}")
    counter.update(actions=[CounterRecord.value.add(count)])
    return range(int(counter.value) - count + 1, int(counter.value) + 1)


def _is_condition_failure(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


class EntityStore(Generic[E]):
    """Create, read, list, update and delete one kind of tenant-scoped entity with a unique name."""

    def __init__(self, model: type[E], kind: str, label: str, name_scope: str | None = None) -> None:
        self.model = model
        self.kind = kind
        self.label = label  # for messages: "Pool 7 not found"
        # An attribute whose value scopes the unique names (plans: each kind has its own "Default").
        self.name_scope = name_scope

    def _names(self, scope: Any = None) -> str:
        """The kind part of the name keys: names are unique per tenant, kind and scope."""
        return f"{self.kind}:{scope}" if self.name_scope and scope else self.kind

    def _scope_of(self, record: E) -> Any:
        return getattr(record, self.name_scope, None) if self.name_scope else None

    def find(self, tenant_id: int, entity_id: int) -> E | None:
        ensure_bound()
        try:
            return self.model.get(tenant_id, entity_id)
        except DoesNotExist:
            return None

    def get(self, tenant_id: int, entity_id: int) -> E:
        record = self.find(tenant_id, entity_id)
        if record is None:
            raise NotFound(f"{self.label} {entity_id} not found")
        return record

    def list(self, tenant_id: int) -> list[E]:
        ensure_bound()
        return list(self.model.query(tenant_id))

    def iterate(self, tenant_id: int) -> Iterator[E]:
        ensure_bound()
        return self.model.query(tenant_id)

    def batch_get(self, tenant_id: int, ids: list[int]) -> dict[int, E]:
        ensure_bound()
        unique = sorted(set(ids))
        if not unique:
            return {}
        return {int(r.id): r for r in self.model.batch_get([(tenant_id, i) for i in unique])}

    def name_taken(self, tenant_id: int, name: str, scope: Any = None) -> bool:
        ensure_bound()
        try:
            NameRecord.get(name_key(tenant_id, self._names(scope), name))
        except DoesNotExist:
            return False
        return True

    def create(self, tenant_id: int, name: str, doc: dict[str, Any], **attributes: Any) -> E:
        now = utc_now_iso()
        record = self.model(
            tenant_id=tenant_id,
            id=next_id(self.kind),
            name=name,
            doc=doc,
            created=now,
            updated=now,
            **attributes,
        )
        scope = self._scope_of(record)
        name_record = NameRecord(
            key=name_key(tenant_id, self._names(scope), name), tenant_id=tenant_id, kind=self.kind,
            ref_id=record.id,
        )
        try:
            with transaction() as tx:
                tx.save(name_record, condition=NameRecord.key.does_not_exist())
                tx.save(record, condition=self.model.id.does_not_exist())
        except TransactWriteError as error:
            if self.name_taken(tenant_id, name, scope):
                raise NotUnique(f"A {self.label.lower()} named '{name}' already exists", "name") from error
            raise
        return record

    def update(self, record: E, name: str, doc: dict[str, Any]) -> E:
        """Save new settings; the version check refuses a write based on a stale read. Only the settings
        are written (an UpdateItem, not a put), so attributes the jobs keep beside them (a pool's `stats`
        and `broker_state`) are never overwritten with what this record held when it was read."""
        old_name = record.name
        old_names = self._names(self._scope_of(record))
        record.name = name
        record.doc = doc
        record.updated = utc_now_iso()
        model = type(record)
        settings = [model.name.set(record.name), model.doc.set(record.doc), model.updated.set(record.updated)]
        names = self._names(self._scope_of(record))
        renamed = name_key(record.tenant_id, old_names, old_name) != name_key(record.tenant_id, names, name)
        try:
            with transaction() as tx:
                if renamed:
                    tx.delete(
                        NameRecord(key=name_key(record.tenant_id, old_names, old_name)),
                        condition=NameRecord.ref_id == int(record.id),
                        add_version_condition=False,
                    )
                    tx.save(
                        NameRecord(
                            key=name_key(record.tenant_id, names, name),
                            tenant_id=record.tenant_id,
                            kind=self.kind,
                            ref_id=record.id,
                        ),
                        condition=NameRecord.key.does_not_exist(),
                    )
                tx.update(record, settings, condition=model.id.exists())
        except TransactWriteError as error:
            if renamed and self.name_taken(record.tenant_id, name, self._scope_of(record)):
                raise NotUnique(f"A {self.label.lower()} named '{name}' already exists", "name") from error
            raise Conflict(f"{self.label} {record.id} was changed by someone else; read it again") from error
        return record

    def save_doc(self, record: E) -> E:
        """Write back a record read earlier (no rename), refusing if it changed in between."""
        record.updated = utc_now_iso()
        try:
            record.save()
        except PutError as error:
            if _is_condition_failure(error):
                raise Conflict(f"{self.label} {record.id} was changed by someone else; try again") from error
            raise
        return record

    def delete(self, record: E) -> None:
        names = self._names(self._scope_of(record))
        try:
            with transaction() as tx:
                tx.delete(
                    NameRecord(key=name_key(record.tenant_id, names, record.name)),
                    add_version_condition=False,
                )
                tx.delete(record)
        except TransactWriteError as error:
            raise Conflict(f"{self.label} {record.id} was changed by someone else; read it again") from error


class UserStore:
    """Users keyed by (tenant, lower-cased login); the integer id is served by the `by_id` LSI."""

    def find_by_login(self, tenant_id: int, login: str) -> UserRecord | None:
        ensure_bound()
        try:
            return UserRecord.get(tenant_id, login.strip().casefold())
        except DoesNotExist:
            return None

    def find(self, tenant_id: int, user_id: int) -> UserRecord | None:
        ensure_bound()
        for record in UserRecord.by_id.query(tenant_id, UserRecord.id == user_id, limit=1):
            return record
        return None

    def get(self, tenant_id: int, user_id: int) -> UserRecord:
        record = self.find(tenant_id, user_id)
        if record is None:
            raise NotFound(f"User {user_id} not found")
        return record

    def list(self, tenant_id: int) -> list[UserRecord]:
        ensure_bound()
        return list(UserRecord.by_id.query(tenant_id))

    def create(
        self, tenant_id: int, login: str, doc: dict[str, Any], password_hash: str | None
    ) -> UserRecord:
        now = utc_now_iso()
        record = UserRecord(
            tenant_id=tenant_id,
            login=login.strip().casefold(),
            id=next_id("user"),
            doc=doc,
            password_hash=password_hash,
            created=now,
            updated=now,
        )
        try:
            record.save(condition=UserRecord.login.does_not_exist())
        except PutError as error:
            if _is_condition_failure(error):
                raise NotUnique(f"A user with login '{login}' already exists", "user_login") from error
            raise
        return record

    def save(self, record: UserRecord) -> UserRecord:
        record.updated = utc_now_iso()
        try:
            record.save()
        except PutError as error:
            if _is_condition_failure(error):
                raise Conflict(f"User {record.id} was changed by someone else; try again") from error
            raise
        return record

    def delete(self, record: UserRecord) -> None:
        try:
            record.delete()
        except DeleteError as error:
            if _is_condition_failure(error):
                raise Conflict(f"User {record.id} was changed by someone else; try again") from error
            raise


def hash_secret_token(token: str) -> str:
    """Tokens are stored as their SHA-256 so a leaked table does not leak live sessions."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Admin sessions with an idle timeout: `expires_at` moves forward as the session is used."""

    # Refresh the idle deadline at most this often, so most requests cost one read, not a write too.
    TOUCH_EVERY_SECONDS = 60

    def create(
        self, sid: str, tenant_id: int, user_id: int, login: str, role: str, idle_seconds: int
    ) -> None:
        ensure_bound()
        now = int(time.time())
        SessionRecord(
            sid_hash=hash_secret_token(sid),
            tenant_id=tenant_id,
            user_id=user_id,
            login=login,
            role=role,
            last_seen=now,
            expires_at=datetime.fromtimestamp(now + idle_seconds, UTC),
        ).save()

    def find_live(self, sid: str, idle_seconds: int) -> SessionRecord | None:
        """The session if it exists and has not been idle too long; extends its deadline."""
        ensure_bound()
        try:
            record = SessionRecord.get(hash_secret_token(sid), consistent_read=True)
        except DoesNotExist:
            return None
        now = int(time.time())
        # DynamoDB deletes expired items only eventually: check the deadline ourselves.
        if record.expires_at.timestamp() <= now:
            return None
        if now - int(record.last_seen) >= self.TOUCH_EVERY_SECONDS:
            try:
                record.update(
                    actions=[
                        SessionRecord.last_seen.set(now),
                        SessionRecord.expires_at.set(datetime.fromtimestamp(now + idle_seconds, UTC)),
                    ],
                    condition=SessionRecord.sid_hash.exists(),
                )
            except UpdateError:
                return None  # logged out meanwhile
        return record

    def delete(self, sid: str) -> None:
        ensure_bound()
        SessionRecord(sid_hash=hash_secret_token(sid)).delete()


class AuditStore:
    """Audit events, newest last in each tenant's partition, expiring through the TTL attribute."""

    def record(
        self,
        tenant_id: int,
        event_type: str,
        message: str,
        *,
        retention_days: int,
        user: str | None = None,
        pool_id: int | None = None,
        desktop_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditRecord:
        ensure_bound()
        now = datetime.now(UTC)
        event = AuditRecord(
            tenant_id=tenant_id,
            event_key=f"{now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{uuid.uuid4().hex[:12]}",
            type=event_type,
            message=message,
            user=user,
            pool_id=pool_id,
            desktop_id=desktop_id,
            details=details or {},
            expires_at=datetime.fromtimestamp(now.timestamp() + retention_days * 86400, UTC),
        )
        event.save()
        return event

    def list(
        self,
        tenant_id: int,
        start: str | None = None,
        end: str | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[AuditRecord]:
        ensure_bound()
        condition = None
        if start and end:
            condition = AuditRecord.event_key.between(start, end + "\uffff")
        elif start:
            condition = AuditRecord.event_key >= start
        elif end:
            condition = AuditRecord.event_key <= end + "\uffff"
        return list(AuditRecord.query(tenant_id, condition, scan_index_forward=not newest_first, limit=limit))
