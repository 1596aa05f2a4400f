"""Desktops and the per-pool counters that keep provisioning exact under races.

`pool-total#<tenant>#<pool>` is the pool's desktop count including those still being created. A check
reserves new desktops with a compare-and-set on it, so racing checks can never push a pool past its
maximum (ARCHITECTURE.md invariant 2). The reservation is written on the same item and stays open
until its records are written, in bounded batches (invariant 9); docs/provisioning.md has the proof.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError

from chalicelib.clock import utc_iso
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.pools import Pool
from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.provisioning import Reservation, first_sequence
from chalicelib.store.binding import ensure_bound, transaction
from chalicelib.store.models import CounterRecord, DesktopRecord, NameRecord, PoolRecord
from chalicelib.store.repos import name_key, next_id, next_ids
from chalicelib.store.transactions import condition_failed

# New desktop records are written this many to a transaction: a quarter of DynamoDB's 100 items.
RECORDS_PER_TRANSACTION = 25
# Why DynamoDB cancels a transaction when another writer got there first (a retry may succeed).
_LOST_RACE = {"ConditionalCheckFailed", "TransactionConflict"}


def _lost_race(error: TransactWriteError) -> bool:
    """The transaction was cancelled only because an item was not as its condition said."""
    reasons = [r.code for r in (error.cancellation_reasons or []) if r is not None and r.code != "None"]
    return bool(reasons) and all(code in _LOST_RACE for code in reasons)


def pool_key(tenant_id: int, pool_id: int) -> str:
    return f"{tenant_id}#{pool_id}"


def center_key(tenant_id: int, center_id: int) -> str:
    return f"{tenant_id}#{center_id}"


def user_key(tenant_id: int, user_id: int) -> str:
    return f"{tenant_id}#{user_id}"


def instance_guard(tenant_id: int, center_id: int, instance_id: str) -> str:
    """The names-table key that lets one record exist per instance found in a center."""
    return name_key(tenant_id, "instance", f"{center_id}#{instance_id}")


def registered_guard(tenant_id: int, center_id: int, name: str) -> str:
    """The names-table key that keeps one registered desktop per name in a center."""
    return name_key(tenant_id, "registered-desktop", f"{center_id}#{name}")


DUE_SHARDS = 4  # the by_due index's partitions: a desktop's timers are in shard `id % DUE_SHARDS`


def due_bucket(desktop_id: int) -> str:
    return f"due#{desktop_id % DUE_SHARDS}"


def desktop_of(record: DesktopRecord) -> Desktop:
    """The typed desktop of a stored record (the one reading of a desktop's document)."""
    last_user = str(record.last_user_key).rpartition("#")[2] if record.last_user_key else ""
    return Desktop.from_stored(
        record.doc or {}, tenant_id=int(record.tenant_id), id=int(record.id), name=record.name,
        center_id=int(record.center_id), display_name=record.display_name,
        pool_id=int(record.pool_id) if record.pool_id else None, instance_id=record.instance_id,
        power_state=record.power_state, available=record.available, deletable=record.deletable,
        lifecycle=record.lifecycle,
        assigned_user_id=None if record.assigned_user_id is None else int(record.assigned_user_id),
        last_user_id=int(last_user) if last_user.isdigit() else None,
        last_offered=None if record.last_offered is None else int(record.last_offered),
        due_at=None if record.due_at is None else int(record.due_at),
        created=record.created, updated=record.updated,
        version=None if record.version is None else int(record.version))


def record_of(desktop: Desktop) -> DesktopRecord:
    """The record that stores the desktop, its index keys derived from its fields, at the version it was
    read (pynamodb checks it on a write and adds one)."""
    tenant_id = desktop.tenant_id
    return DesktopRecord(
        tenant_id=tenant_id, id=desktop.id, name=desktop.name, display_name=desktop.display_name,
        center_id=desktop.center_id, center_key=center_key(tenant_id, desktop.center_id),
        pool_id=desktop.pool_id, pool_key=pool_key(tenant_id, desktop.pool_id) if desktop.pool_id else None,
        instance_id=desktop.instance_id, power_state=desktop.power_state.value, available=desktop.available,
        deletable=desktop.deletable, lifecycle=desktop.lifecycle.value,
        assigned_user_id=desktop.assigned_user_id,
        user_key=None if desktop.assigned_user_id is None else user_key(tenant_id, desktop.assigned_user_id),
        last_user_key=None if desktop.last_user_id is None else user_key(tenant_id, desktop.last_user_id),
        last_offered=desktop.last_offered,
        due_bucket=None if desktop.due_at is None else due_bucket(desktop.id), due_at=desktop.due_at,
        doc=desktop.stored_doc(), created=desktop.created, updated=desktop.updated,
        **({} if desktop.version is None else {"version": desktop.version}))


def _changed(desktop: Desktop | DesktopRecord) -> Conflict:
    return Conflict(f"Desktop {desktop.id} was changed by someone else; try again")


class DesktopStore:
    """Desktops in and out as typed entities (chalicelib/domain/entities/desktops.py); every write of a
    desktop read earlier is made under the version it was read at (Conflict when it changed since)."""

    def new(
        self,
        tenant_id: int,
        center_id: int,
        pool_id: int | None,
        name: str,
        *,
        desktop_id: int | None = None,
        **fields: Any,
    ) -> Desktop:
        """A desktop (with a fresh id unless given), not yet written (see PoolCounters for how a reserved
        one is); `fields` are the entity's."""
        ensure_bound()
        now = utc_iso()
        return Desktop(tenant_id=tenant_id, id=desktop_id if desktop_id is not None else next_id("desktop"),
                       name=name, center_id=center_id, pool_id=pool_id, created=now, updated=now, **fields)

    def count_in_pool(self, tenant_id: int, pool_id: int) -> int:
        """Desktops counted in the pool, read consistently from the table (not the lagging index)."""
        ensure_bound()
        return sum(
            1
            for _ in DesktopRecord.query(
                tenant_id,
                filter_condition=DesktopRecord.pool_id == pool_id,
                consistent_read=True,
                attributes_to_get=["id"],
            )
        )

    def find(self, tenant_id: int, desktop_id: int) -> Desktop | None:
        ensure_bound()
        try:
            return desktop_of(DesktopRecord.get(tenant_id, desktop_id, consistent_read=True))
        except DoesNotExist:
            return None

    @staticmethod
    def new_ids(count: int) -> range:
        """Ids for `count` desktop records, in one request."""
        return next_ids("desktop", count)

    def get(self, tenant_id: int, desktop_id: int) -> Desktop:
        desktop = self.find(tenant_id, desktop_id)
        if desktop is None:
            raise NotFound(f"Desktop {desktop_id} not found")
        return desktop

    def of_tenant(self, tenant_id: int) -> Iterator[Desktop]:
        ensure_bound()
        return (desktop_of(record) for record in DesktopRecord.query(tenant_id))

    def of_pool(self, tenant_id: int, pool_id: int) -> list[Desktop]:
        ensure_bound()
        return [desktop_of(record) for record in DesktopRecord.by_pool.query(pool_key(tenant_id, pool_id))]

    def of_center(self, tenant_id: int, center_id: int) -> list[Desktop]:
        ensure_bound()
        return [desktop_of(record)
                for record in DesktopRecord.by_center.query(center_key(tenant_id, center_id))]

    def save(self, desktop: Desktop) -> Desktop:
        """Write `desktop` (a change of one read earlier) under the version it was read at; the desktop as
        written. Conflict if it changed since it was read."""
        ensure_bound()
        record = record_of(replace(desktop, updated=utc_iso()))
        try:
            record.save()
        except PutError as error:
            if condition_failed(error):
                raise _changed(desktop) from error
            raise
        return desktop_of(record)

    def stamp_create(self, desktop: Desktop, now: int) -> Desktop | None:
        """Stamp the desktop as being created by this check (`create_claimed_at`), with its version check:
        of two checks that read it, one stamp is written. The desktop as stamped, or None when another
        writer got there first."""
        try:
            return self.save(replace(desktop, create_claimed_at=int(now)))
        except Conflict:
            return None

    def purge(self, desktop: Desktop) -> bool:
        """Remove a deleted desktop's record (refused if it changed since it was read: a second purge at
        once) and the guard of its instance. False when refused."""
        ensure_bound()
        try:
            record_of(desktop).delete()
        except DeleteError as error:
            if condition_failed(error):
                return False
            raise
        if desktop.instance_id:
            guard = instance_guard(desktop.tenant_id, desktop.center_id, desktop.instance_id)
            NameRecord(key=guard).delete()
        return True

    def drop_stale_guard(self, tenant_id: int, guard: str) -> None:
        """A guard whose desktop record no longer exists would hide the instance for ever: remove it (the
        next scan adds the instance). A guard whose record exists means another scan added it just now."""
        ensure_bound()
        try:
            found = NameRecord.get(guard, consistent_read=True)
        except DoesNotExist:
            return
        if self.find(tenant_id, int(found.ref_id)) is None:
            try:
                NameRecord(key=guard).delete(condition=NameRecord.ref_id == int(found.ref_id))
            except DeleteError as error:
                if not condition_failed(error):
                    raise

    def due(self, now: float, batch: int) -> Iterator[Desktop]:
        """Desktops whose earliest timer is due, read through the sparse `by_due` index (one query per
        shard) and then consistently, `batch` at a time."""
        ensure_bound()
        keys = [(int(item.tenant_id), int(item.id))
                for shard in range(DUE_SHARDS)
                for item in DesktopRecord.by_due.query(f"due#{shard}", DesktopRecord.due_at <= int(now))]
        for start in range(0, len(keys), batch):
            for record in DesktopRecord.batch_get(keys[start:start + batch], consistent_read=True):
                yield desktop_of(record)

    def add_counted(self, desktop: Desktop, pool_id: int | None, guard: str | None) -> Desktop:
        """Write a new desktop (refused if its id, or its `guard` in the names table, already exists) and
        count it into its pool, in one transaction; the desktop as written. The guard keeps one record per
        instance found in a center, or per name registered in one."""
        ensure_bound()
        tenant_id = desktop.tenant_id
        record = record_of(replace(desktop, pool_id=pool_id))
        try:
            with transaction() as tx:
                tx.save(record, condition=DesktopRecord.id.does_not_exist())
                if guard is not None:
                    tx.save(NameRecord(key=guard, tenant_id=tenant_id, kind="instance",
                                       ref_id=desktop.id), condition=NameRecord.key.does_not_exist())
                if pool_id:
                    tx.update(CounterRecord(key=PoolCounters._key("total", tenant_id, pool_id)),
                              actions=[CounterRecord.value.add(1)])
        except TransactWriteError as error:
            raise Conflict(f"Desktop {desktop.id} or its guard exists already") from error
        return desktop_of(record)

    def remove_counted(self, desktop: Desktop, guard: str | None) -> None:
        """Delete a desktop as read (refused if it changed since), its guard, and its pool's count."""
        ensure_bound()
        tenant_id = desktop.tenant_id
        try:
            with transaction() as tx:
                tx.delete(record_of(desktop))
                if guard is not None:
                    tx.delete(NameRecord(key=guard), condition=NameRecord.ref_id == desktop.id)
                if desktop.pool_id:
                    tx.update(CounterRecord(key=PoolCounters._key("total", tenant_id, desktop.pool_id)),
                              actions=[CounterRecord.value.add(-1)])
        except TransactWriteError as error:
            raise _changed(desktop) from error


class PoolCounters:
    """Atomic per-pool numbers: total desktops (reservations), the {SEQUENCE} value, failures in a row."""

    @staticmethod
    def _key(kind: str, tenant_id: int, pool_id: int) -> str:
        return f"pool-{kind}#{tenant_id}#{pool_id}"

    def _read(self, key: str) -> int | None:
        ensure_bound()
        try:
            return int(CounterRecord.get(key, consistent_read=True).value)
        except DoesNotExist:
            return None

    def state(self, tenant_id: int, pool_id: int) -> tuple[int | None, Reservation | None]:
        """The pool's total (None: never counted) and its open reservation, read consistently."""
        ensure_bound()
        try:
            record = CounterRecord.get(self._key("total", tenant_id, pool_id), consistent_read=True)
        except DoesNotExist:
            return None, None
        reservation = Reservation.from_doc(record.reservation) if record.reservation else None
        return int(record.value), reservation

    def total(self, tenant_id: int, pool_id: int) -> int | None:
        return self.state(tenant_id, pool_id)[0]

    def reservation(self, tenant_id: int, pool_id: int) -> Reservation | None:
        return self.state(tenant_id, pool_id)[1]

    def try_reserve(self, tenant_id: int, pool_id: int, seen: int | None, count: int) -> bool:
        """Add `count` if the total is still `seen` (None: never counted). False if another check won."""
        ensure_bound()
        record = CounterRecord(key=self._key("total", tenant_id, pool_id))
        condition = CounterRecord.value.does_not_exist() if seen is None else CounterRecord.value == seen
        try:
            record.update(actions=[CounterRecord.value.set((seen or 0) + count)], condition=condition)
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def reserve(
        self, tenant_id: int, pool_id: int, *, seen: int, count: int, first_id: int, first_value: int,
        now: float,
    ) -> Reservation | None:
        """Raise the pool's total from `seen` by `count` and open a reservation for the records, taking
        their {SEQUENCE} numbers, all in one transaction of two items. None if another check changed the
        total, holds an open reservation or took numbers since they were read: nothing was taken."""
        ensure_bound()
        sequence_key = self._key("seq", tenant_id, pool_id)
        last_used = self._read(sequence_key)
        reservation = Reservation(first_id, first_sequence(last_used, first_value), count, int(now))
        last_taken = reservation.first_sequence + count - 1
        try:
            with transaction() as tx:
                tx.update(
                    CounterRecord(key=self._key("total", tenant_id, pool_id)),
                    actions=[CounterRecord.value.set(seen + count),
                             CounterRecord.reservation.set(reservation.as_doc())],
                    condition=(CounterRecord.value == seen) & CounterRecord.reservation.does_not_exist(),
                )
                tx.update(
                    CounterRecord(key=sequence_key),
                    actions=[CounterRecord.value.set(last_taken)],
                    condition=CounterRecord.value.does_not_exist() if last_used is None
                    else CounterRecord.value == last_used,
                )
        except TransactWriteError as error:
            if _lost_race(error):
                return None
            raise
        return reservation

    def write_reserved(self, desktops: list[Desktop]) -> list[Desktop]:
        """Write a reservation's desktops, RECORDS_PER_TRANSACTION at a time, each only if no record has
        its id yet; returns the desktops this call wrote (one someone else wrote is not among them), as
        written. Safe to run twice at once: each record is written once."""
        ensure_bound()
        written: list[DesktopRecord] = []
        records = [record_of(desktop) for desktop in desktops]
        for start in range(0, len(records), RECORDS_PER_TRANSACTION):
            batch = records[start:start + RECORDS_PER_TRANSACTION]
            try:
                with transaction() as tx:
                    for record in batch:
                        tx.save(record, condition=DesktopRecord.id.does_not_exist())
                written.extend(batch)
            except TransactWriteError as error:
                if not _lost_race(error):
                    raise
                written.extend(record for record in batch if self._put_new(record))
        return [desktop_of(record) for record in written]

    @staticmethod
    def _put_new(record: DesktopRecord) -> bool:
        try:
            record.save(condition=DesktopRecord.id.does_not_exist())
        except PutError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def close_reservation(self, tenant_id: int, pool_id: int, reservation: Reservation) -> None:
        """Every record of the reservation is written: the total equals the records again."""
        ensure_bound()
        try:
            CounterRecord(key=self._key("total", tenant_id, pool_id)).update(
                actions=[CounterRecord.reservation.remove()],
                condition=CounterRecord.reservation == reservation.as_doc(),
            )
        except UpdateError as error:
            if not condition_failed(error):
                raise  # else another check closed it already

    def move(self, desktop: Desktop, new_pool_id: int | None) -> Desktop:
        """Save the desktop (a change of one read earlier, under the version it was read at) with its new
        pool (or none), and move it between the pools' counts atomically; the desktop as written."""
        ensure_bound()
        tenant_id = desktop.tenant_id
        old_pool_id = desktop.pool_id
        record = record_of(replace(desktop, pool_id=new_pool_id, updated=utc_iso()))
        try:
            with transaction() as tx:
                tx.save(record)
                if old_pool_id != new_pool_id:
                    if old_pool_id:
                        tx.update(
                            CounterRecord(key=self._key("total", tenant_id, old_pool_id)),
                            actions=[CounterRecord.value.add(-1)],
                        )
                    if new_pool_id:
                        tx.update(
                            CounterRecord(key=self._key("total", tenant_id, new_pool_id)),
                            actions=[CounterRecord.value.add(1)],
                        )
        except TransactWriteError as error:
            raise _changed(desktop) from error
        return desktop_of(record)

    def add_failure(self, tenant_id: int, pool_id: int) -> int:
        ensure_bound()
        record = CounterRecord(key=self._key("failures", tenant_id, pool_id))
        record.update(actions=[CounterRecord.value.add(1)])
        return int(record.value)

    def reset_failures(self, tenant_id: int, pool_id: int) -> None:
        ensure_bound()
        CounterRecord(key=self._key("failures", tenant_id, pool_id), value=0).save()


def set_pool_side_state(
    pool: Pool,
    *,
    stats: dict[str, Any] | None = None,
    broker_state: dict[str, Any] | None = None,
    clear_broker_state: bool = False,
) -> None:
    """Write the jobs' attributes without touching `version`, so an admin's edit never conflicts."""
    ensure_bound()
    actions = []
    if stats is not None:
        actions.append(PoolRecord.stats.set(stats))
    if broker_state is not None:
        actions.append(PoolRecord.broker_state.set(broker_state))
    if clear_broker_state:
        actions.append(PoolRecord.broker_state.remove())
    if actions:
        PoolRecord._get_connection().update_item(
            str(pool.tenant_id), str(pool.id), actions=actions, condition=PoolRecord.id.exists()
        )
