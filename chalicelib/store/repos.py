"""Repositories: the only code that reads and writes the broker's tables.

Writes that guard an invariant (unique names, optimistic versions, claims) are conditional.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, PynamoDBException, UpdateError

from chalicelib import clock
from chalicelib.domain.entities.base import Entity
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import BrokerError, Conflict, NotFound, NotUnique
from chalicelib.domain.token_digest import token_hash
from chalicelib.store.binding import ensure_bound
from chalicelib.store.models import (
    AuditRecord,
    CounterRecord,
    EntityModel,
    MarkerRecord,
    NameRecord,
    SessionRecord,
    UserRecord,
)
from chalicelib.store.transactions import MAX_ITEMS as MAX_TRANSACTION_ITEMS
from chalicelib.store.transactions import (
    Transaction,
    TransactionFailed,
    condition_failed,
    transaction,
    unavailable_as_broker_error,
)

E = TypeVar("E", bound=EntityModel)
T = TypeVar("T", bound=Entity)


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


# Extra items a caller adds to an entity's transaction (given the record being written), and what to
# raise when one of them is refused.
ExtraItems = Callable[[Transaction, Any], None]
Refusals = Mapping[str, BrokerError]


def _refusal(failure: TransactionFailed, refusals: Refusals | None) -> BrokerError | None:
    for item_label, error in (refusals or {}).items():
        if item_label in failure.failed:
            return error
    return None


class EntityStore(Generic[E]):
    """Create, read, list, update and delete one kind of tenant-scoped entity with a unique name.

    create, update and delete take `also` (more items for the same transaction, e.g. a login name the
    record claims) and `refusals` (label -> the error to raise when that item's condition fails)."""

    NAME = "name"  # transaction labels of the items this store writes
    OLD_NAME = "old-name"
    RECORD = "record"

    def __init__(self, model: type[E], kind: str, label: str, name_scope: str | None = None,
                 name_kind: str | None = None) -> None:
        self.model = model
        self.kind = kind
        self.label = label  # for messages: "Pool 7 not found"
        # An attribute whose value scopes the unique names (plans: each kind has its own "Default").
        self.name_scope = name_scope
        # The namespace of the unique names, when it is shared with other records (tenants: login names).
        self.name_kind = name_kind or kind

    def _names(self, scope: Any = None) -> str:
        """The kind part of the name keys: names are unique per tenant, kind and scope."""
        return f"{self.name_kind}:{scope}" if self.name_scope and scope else self.name_kind

    def _scope_of(self, record: E) -> Any:
        return getattr(record, self.name_scope, None) if self.name_scope else None

    def _name_taken(self, name: str) -> NotUnique:
        return NotUnique(f"A {self.label.lower()} named '{name}' already exists", "name")

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
        """StoreUnavailable (a ServiceUnavailable) when the database does not answer."""
        ensure_bound()
        unique = sorted(set(ids))
        if not unique:
            return {}
        with unavailable_as_broker_error():
            return {int(r.id): r for r in self.model.batch_get([(tenant_id, i) for i in unique])}

    def name_taken(self, tenant_id: int, name: str, scope: Any = None) -> bool:
        ensure_bound()
        try:
            NameRecord.get(name_key(tenant_id, self._names(scope), name))
        except DoesNotExist:
            return False
        return True

    def create(self, tenant_id: int, name: str, doc: dict[str, Any], *, also: ExtraItems | None = None,
               refusals: Refusals | None = None, **attributes: Any) -> E:
        now = clock.utc_iso()
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
                tx.put(self.NAME, name_record, condition=NameRecord.key.does_not_exist())
                tx.put(self.RECORD, record, condition=self.model.id.does_not_exist())
                if also is not None:
                    also(tx, record)
        except TransactionFailed as failure:
            if self.NAME in failure.failed:
                raise self._name_taken(name) from failure
            raise _refusal(failure, refusals) or failure from failure
        return record

    def update(self, record: E, name: str, doc: dict[str, Any], *, also: ExtraItems | None = None,
               refusals: Refusals | None = None) -> E:
        """Save new settings; the version check refuses a write based on a stale read. Only the settings
        are written (an UpdateItem, not a put), so attributes the jobs keep beside them (a pool's `stats`
        and `broker_state`) are never overwritten with what this record held when it was read."""
        old_name = record.name
        old_names = self._names(self._scope_of(record))
        model = type(record)
        updated = clock.utc_iso()
        settings = [model.name.set(name), model.doc.set(doc), model.updated.set(updated)]
        names = self._names(self._scope_of(record))
        renamed = name_key(record.tenant_id, old_names, old_name) != name_key(record.tenant_id, names, name)
        try:
            with transaction() as tx:
                if renamed:
                    tx.delete(
                        self.OLD_NAME,
                        NameRecord(key=name_key(record.tenant_id, old_names, old_name)),
                        condition=NameRecord.ref_id == int(record.id),
                        versioned=False,
                    )
                    tx.put(
                        self.NAME,
                        NameRecord(
                            key=name_key(record.tenant_id, names, name),
                            tenant_id=record.tenant_id,
                            kind=self.kind,
                            ref_id=record.id,
                        ),
                        condition=NameRecord.key.does_not_exist(),
                    )
                tx.update(self.RECORD, record, settings, condition=model.id.exists())
                if also is not None:
                    also(tx, record)
        except TransactionFailed as failure:
            if self.NAME in failure.failed:
                raise self._name_taken(name) from failure
            refused = _refusal(failure, refusals)
            if refused is not None:
                raise refused from failure
            raise Conflict(
                f"{self.label} {record.id} was changed by someone else; read it again") from failure
        record.name, record.doc, record.updated = name, doc, updated
        return record

    def delete(self, record: E, *, also: ExtraItems | None = None, refusals: Refusals | None = None) -> None:
        names = self._names(self._scope_of(record))
        try:
            with transaction() as tx:
                tx.delete(
                    self.NAME,
                    NameRecord(key=name_key(record.tenant_id, names, record.name)),
                    versioned=False,
                )
                tx.delete(self.RECORD, record)
                if also is not None:
                    also(tx, record)
        except TransactionFailed as failure:
            raise _refusal(failure, refusals) or Conflict(
                f"{self.label} {record.id} was changed by someone else; read it again") from failure


class TypedEntityStore(Generic[E, T]):
    """The store of one kind of entity as the services see it: typed entities in and out
    (chalicelib/domain/entities/), the records and their documents kept inside (`EntityStore`).

    `also` callbacks are given the entity as it is written (with its id on a create)."""

    def __init__(self, records: EntityStore[E], entity: type[T]) -> None:
        self.records = records
        self.entity = entity
        self.label = records.label
        # What the entity reads of its record beside the document (written: `ATTRIBUTES` only, on create).
        self.read_attributes = entity.ATTRIBUTES | entity.SIDE_ATTRIBUTES

    def _entity(self, record: E) -> T:
        return self.entity.from_stored(
            record.doc or {}, tenant_id=int(record.tenant_id), id=int(record.id), name=record.name,
            created=record.created, updated=record.updated,
            version=None if record.version is None else int(record.version),
            **{name: getattr(record, name) for name in self.read_attributes})

    def _record(self, entity: T) -> E:
        """The record of an entity as read, to update or delete it by (its key and version); `update`
        writes only its settings, so the side attributes it carries are never written back."""
        return self.records.model(
            tenant_id=entity.tenant_id, id=entity.id, name=entity.name, doc=entity.stored_doc(),
            created=entity.created, updated=entity.updated, version=entity.version,
            **{name: getattr(entity, name) for name in self.read_attributes})

    def _also(self, also: Callable[[Transaction, T], None] | None) -> ExtraItems | None:
        if also is None:
            return None
        return lambda tx, record: also(tx, self._entity(record))

    def find(self, tenant_id: int, entity_id: int) -> T | None:
        record = self.records.find(tenant_id, entity_id)
        return None if record is None else self._entity(record)

    def get(self, tenant_id: int, entity_id: int) -> T:
        return self._entity(self.records.get(tenant_id, entity_id))

    def list(self, tenant_id: int) -> list[T]:
        return [self._entity(record) for record in self.records.iterate(tenant_id)]

    def iterate(self, tenant_id: int) -> Iterator[T]:
        return (self._entity(record) for record in self.records.iterate(tenant_id))

    def batch_get(self, tenant_id: int, ids: list[int]) -> dict[int, T]:
        return {entity_id: self._entity(record)
                for entity_id, record in self.records.batch_get(tenant_id, ids).items()}

    def name_taken(self, tenant_id: int, name: str, scope: Any = None) -> bool:
        return self.records.name_taken(tenant_id, name, scope)

    def create(self, entity: T, *, also: Callable[[Transaction, T], None] | None = None,
               refusals: Refusals | None = None) -> T:
        """Write a new entity (its id, dates and version are the store's; its side attributes are the
        jobs' to write); the entity as stored."""
        record = self.records.create(entity.tenant_id, entity.name, entity.stored_doc(),
                                     also=self._also(also), refusals=refusals,
                                     **{name: getattr(entity, name) for name in self.entity.ATTRIBUTES})
        return self._entity(record)

    def update(self, current: T, changed: T, *, also: Callable[[Transaction, T], None] | None = None,
               refusals: Refusals | None = None) -> T:
        """Save `changed`, made from `current` as it was read: refused (Conflict) when the entity changed
        in between. Its name, settings and update time are written; the store's attributes are not."""
        record = self.records.update(self._record(current), changed.name, changed.stored_doc(),
                                     also=self._also(also), refusals=refusals)
        return self._entity(record)

    def delete(self, entity: T, *, also: Callable[[Transaction, T], None] | None = None,
               refusals: Refusals | None = None) -> None:
        self.records.delete(self._record(entity), also=self._also(also), refusals=refusals)


def user_of(record: UserRecord) -> User:
    """The typed user of a stored record (the one reading of a user's document)."""
    return User.from_stored(
        record.doc or {}, tenant_id=int(record.tenant_id), login=str(record.login), id=int(record.id),
        password_hash=record.password_hash, held=frozenset(int(i) for i in record.held or ()),
        held_version=None if record.held_version is None else int(record.held_version),
        tokens_after=None if record.tokens_after is None else int(record.tokens_after),
        created=record.created, updated=record.updated,
        version=None if record.version is None else int(record.version))


def user_key_record(user: User) -> UserRecord:
    """A record naming the stored user (its key and the version it was read at), to write it by."""
    return UserRecord(tenant_id=user.tenant_id, login=user.login, version=user.version)


class UserStore:
    """Users keyed by (tenant, lower-cased login); the integer id is served by the `by_id` LSI. Typed
    users in and out (chalicelib/domain/entities/users.py), the records kept inside."""

    def find_by_login(self, tenant_id: int, login: str) -> User | None:
        """The user as it is now (a consistent read: its `held` desktops decide a login's claims)."""
        ensure_bound()
        try:
            return user_of(UserRecord.get(tenant_id, login.strip().casefold(), consistent_read=True))
        except DoesNotExist:
            return None

    def find(self, tenant_id: int, user_id: int) -> User | None:
        ensure_bound()
        for record in UserRecord.by_id.query(tenant_id, UserRecord.id == user_id, limit=1):
            return user_of(record)
        return None

    def get(self, tenant_id: int, user_id: int) -> User:
        user = self.find(tenant_id, user_id)
        if user is None:
            raise NotFound(f"User {user_id} not found")
        return user

    def list(self, tenant_id: int) -> list[User]:
        ensure_bound()
        return [user_of(record) for record in UserRecord.by_id.query(tenant_id)]

    def create(self, user: User) -> User:
        """Write a new user with its settings and password hash (its id, dates and version are the
        store's; it holds nothing); the user as stored."""
        now = clock.utc_iso()
        record = UserRecord(
            tenant_id=user.tenant_id,
            login=user.login.strip().casefold(),
            id=next_id("user"),
            doc=user.stored_doc(),
            password_hash=user.password_hash,
            created=now,
            updated=now,
        )
        try:
            record.save(condition=UserRecord.login.does_not_exist())
        except PutError as error:
            if condition_failed(error):
                raise NotUnique(f"A user with login '{user.login}' already exists", "user_login") from error
            raise
        return user_of(record)

    def update(self, current: User, changed: User) -> User:
        """Save `changed`, made from `current` as it was read, refusing a write based on a stale read
        (Conflict). Written: the settings, and the password hash or the start of valid tokens when
        `changed` brings a new one; never the held desktops."""
        if (changed.tenant_id, changed.login, changed.id) != (current.tenant_id, current.login, current.id):
            raise ValueError("a user's tenant, login and id never change")
        ensure_bound()
        actions = [UserRecord.doc.set(changed.stored_doc()), UserRecord.updated.set(clock.utc_iso())]
        if changed.password_hash is not None and changed.password_hash != current.password_hash:
            actions.append(UserRecord.password_hash.set(changed.password_hash))
        if changed.tokens_after is not None and changed.tokens_after != current.tokens_after:
            actions.append(UserRecord.tokens_after.set(changed.tokens_after))
        record = user_key_record(current)
        try:
            record.update(actions=actions, condition=UserRecord.login.exists())
        except UpdateError as error:
            if condition_failed(error):
                raise Conflict(f"User {current.id} was changed by someone else; read it again") from error
            raise
        return user_of(record)

    def replace_hash(self, user: User, old_hash: str, new_hash: str) -> None:
        """Store a re-made hash of the same password, unless the password was changed meanwhile."""
        ensure_bound()
        try:
            user_key_record(user).update(actions=[UserRecord.password_hash.set(new_hash)],
                                         condition=UserRecord.password_hash == old_hash,
                                         add_version_condition=False)
        except UpdateError as error:
            if not condition_failed(error):
                raise

    def delete_if_holding_nothing(self, user: User) -> bool:
        """Delete the user unless it holds a desktop (a login claimed one meanwhile) or changed."""
        ensure_bound()
        try:
            user_key_record(user).delete(condition=UserRecord.held.does_not_exist())
        except DeleteError as error:
            if condition_failed(error):
                return False
            raise
        return True


class SessionStore:
    """Admin sessions with an idle timeout (`expires_at` moves forward as the session is used) and an
    absolute lifetime counted from `created`."""

    # Refresh the idle deadline at most this often, so most requests cost one read, not a write too.
    TOUCH_EVERY_SECONDS = 60

    def create(
        self, sid: str, tenant_id: int, user_id: int, login: str, role: str, idle_seconds: int
    ) -> None:
        ensure_bound()
        now = int(clock.time())
        SessionRecord(
            sid_hash=token_hash(sid),
            tenant_id=tenant_id,
            user_id=user_id,
            login=login,
            role=role,
            created=now,
            last_seen=now,
            expires_at=datetime.fromtimestamp(now + idle_seconds, UTC),
        ).save()

    def find_live(self, sid: str, idle_seconds: int, max_seconds: int) -> SessionRecord | None:
        """The session if it exists, has not been idle too long and is younger than `max_seconds`;
        extends its idle deadline (never past the absolute one)."""
        ensure_bound()
        try:
            record = SessionRecord.get(token_hash(sid), consistent_read=True)
        except DoesNotExist:
            return None
        now = int(clock.time())
        created = int(record.created if record.created is not None else record.last_seen)
        # DynamoDB deletes expired items only eventually: check the deadlines ourselves.
        if record.expires_at.timestamp() <= now or now - created >= max_seconds:
            return None
        if now - int(record.last_seen) >= self.TOUCH_EVERY_SECONDS:
            deadline = min(now + idle_seconds, created + max_seconds)
            try:
                record.update(
                    actions=[
                        SessionRecord.last_seen.set(now),
                        SessionRecord.expires_at.set(datetime.fromtimestamp(deadline, UTC)),
                    ],
                    condition=SessionRecord.sid_hash.exists(),
                )
            except UpdateError:
                return None  # logged out meanwhile
        return record

    def delete(self, sid: str) -> None:
        ensure_bound()
        SessionRecord(sid_hash=token_hash(sid)).delete()


class AuditBudget:
    """How many events unauthenticated requests have written into a tenant's log this minute: one
    counter per (tenant, minute) in the markers table, expiring soon after its minute."""

    def take(self, tenant_id: int, minute: int) -> int:
        """Count one more event into the minute; the count including it."""
        ensure_bound()
        record = MarkerRecord(key=f"audit-budget#{tenant_id}#{minute}")
        record.update(actions=[MarkerRecord.value.add(1),
                               MarkerRecord.expires_at.set(datetime.fromtimestamp((minute + 2) * 60, UTC))])
        return int(record.value)


@dataclass(frozen=True)
class AuditEvent:
    tenant_id: int
    type: str
    message: str
    user: str | None = None
    pool_id: int | None = None
    desktop_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


class AuditStore:
    """Audit events, newest last in each tenant's partition, expiring through the TTL attribute."""

    EVENT = "audit-event"  # the transaction label of the events `write` adds

    @staticmethod
    def _record(event: AuditEvent, retention_days: int) -> AuditRecord:
        now = datetime.fromtimestamp(clock.time(), UTC)
        return AuditRecord(
            tenant_id=event.tenant_id,
            event_key=f"{now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{uuid.uuid4().hex[:12]}",
            type=event.type,
            message=event.message,
            user=event.user,
            pool_id=event.pool_id,
            desktop_id=event.desktop_id,
            details=event.details,
            expires_at=datetime.fromtimestamp(now.timestamp() + retention_days * 86400, UTC),
        )

    def write(self, events: list[AuditEvent], retention_days: int,
              also: Callable[[Transaction], None] | None = None) -> None:
        """Write several events in one request: with `also` (more items, e.g. giving a login's attempt slot
        back) as one transaction, and when that transaction is refused, the events alone. Puts only, in
        transactions (never a BatchWriteItem, whose permission would let the functions delete audit
        items: docs/deploy.md, "IAM"), at most 100 items each. One event alone is one PutItem."""
        ensure_bound()
        records = [self._record(event, retention_days) for event in events]
        if also is None and len(records) == 1:
            records[0].save()
            return
        if also is not None and len(records) < MAX_TRANSACTION_ITEMS:
            try:
                self._put_all(records, also)
                return
            except TransactionFailed:
                pass  # the other item's condition did not hold; the events still belong in the log
        for start in range(0, len(records), MAX_TRANSACTION_ITEMS):
            self._put_all(records[start:start + MAX_TRANSACTION_ITEMS])

    def _put_all(self, records: list[AuditRecord], also: Callable[[Transaction], None] | None = None) -> None:
        with transaction() as tx:
            for record in records:
                tx.put(self.EVENT, record)
            if also is not None:
                also(tx)

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


def database_reachable() -> bool:
    """Whether DynamoDB answers a read (for the health check)."""
    ensure_bound()
    try:
        CounterRecord.get("health")
    except DoesNotExist:
        return True
    except PynamoDBException:
        return False
    return True
