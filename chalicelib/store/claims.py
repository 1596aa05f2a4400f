"""Claiming and releasing desktops for end users, and what a login reads of them.

A claim is one transaction of two conditional updates:
- the desktop: unassigned AND available AND active AND in a usable power state, so two logins racing
  for one desktop can never both win (ARCHITECTURE.md invariant 1);
- the user: its `held` set of desktops is still at the version the login read, so two logins of one
  user can never both add to it: the second sees the first's desktop and takes no more than the policy
  allows (invariant 7). The user item is read consistently; no index is involved.
A claim adds one to the desktop's `version`, so a writer holding an older copy (a `save()` with pynamodb's
version check) is refused instead of undoing the assignment; it does not check it, so a power-state update
never makes it fail. A release, whoever asks for it, is `take_back` (the record's change) and
`save_released` (the desktop with its version check and the user's `held` set, in one transaction), called
by services/releases.py only.

A desktop unassigned by another path (the scan finding its instance gone) may stay in `held` for a
while: the next read of the holdings sees that it is no longer the user's and drops it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chalicelib import clock
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import Conflict
from chalicelib.domain.offer import UNUSABLE_POWER_STATES
from chalicelib.store import indexes
from chalicelib.store.binding import ensure_bound
from chalicelib.store.desktops import DesktopStore, desktop_of, pool_key, record_of, user_key
from chalicelib.store.models import DesktopRecord, UserRecord
from chalicelib.store.repos import UserStore
from chalicelib.store.transactions import TransactionFailed, transaction

DESKTOP = "desktop"  # transaction labels
HOLDER = "holder"
BATCH_GET_KEYS = 100  # DynamoDB's limit per BatchGetItem (invariant 9)
# The one reader of a desktop (consistent) and of a user by login (consistent): no second copy here.
_desktops = DesktopStore()
_users = UserStore()


class HolderChanged(Exception):
    """The user's holdings changed since they were read (another login of the same user claimed or
    released meanwhile): read them again and decide again."""


@dataclass
class Holdings:
    """A user as read consistently, and the desktops it holds (each one checked to be the user's)."""

    user: User
    desktops: list[Desktop]


def claimable_condition(user_id: int | None = None) -> Any:
    """Free, available, active, usable. With `user_id`, a desktop already assigned to that user passes
    too, so a claim the transaction's retry applies twice still reads as a claim."""
    unassigned = DesktopRecord.assigned_user_id.does_not_exist()
    if user_id is not None:
        unassigned = unassigned | (DesktopRecord.assigned_user_id == user_id)
    return (
        unassigned
        & (DesktopRecord.available == True)  # noqa: E712 - a pynamodb condition, not a comparison
        & (DesktopRecord.lifecycle == DesktopLifecycle.ACTIVE)
        & ~DesktopRecord.power_state.is_in(*sorted(UNUSABLE_POWER_STATES))
    )


def _unchanged_holder(user: User) -> Any:
    seen = user.held_version
    return UserRecord.held_version.does_not_exist() if seen is None else UserRecord.held_version == seen


def _holder_actions(change: Any) -> list[Any]:
    return [change, UserRecord.held_version.set((UserRecord.held_version | 0) + 1)]


def _batch_get(tenant_id: int, ids: list[int]) -> list[Desktop]:
    found: list[Desktop] = []
    for start in range(0, len(ids), BATCH_GET_KEYS):
        chunk = [(tenant_id, desktop_id) for desktop_id in ids[start:start + BATCH_GET_KEYS]]
        found.extend(map(desktop_of, DesktopRecord.batch_get(chunk, consistent_read=True)))
    return found


class DesktopClaims:
    def holdings(self, user: User) -> Holdings:
        """The desktops the user holds: one consistent BatchGetItem of its `held` set (none when empty).
        Ids that are no longer the user's are dropped from the set, and the user read again."""
        tenant_id, user_id = user.tenant_id, user.id
        ids = sorted(user.held)
        records = _batch_get(tenant_id, ids) if ids else []
        mine = [d for d in records if d.assigned_user_id == user_id]
        gone = sorted(set(ids) - {d.id for d in mine})
        if not gone:
            return Holdings(user, sorted(mine, key=lambda d: d.id))
        self._forget(user, gone)
        fresh = _users.find_by_login(tenant_id, user.login)
        if fresh is None:
            return Holdings(user, [])
        return Holdings(fresh, [d for d in mine if d.id in fresh.held])

    def _forget(self, user: User, gone: list[int]) -> None:
        """Drop desktops that are not the user's any more, each only if it still is not (a concurrent
        login of the same user may claim it again meanwhile)."""
        tenant_id, user_id = user.tenant_id, user.id
        for desktop_id in gone:
            try:
                with transaction() as tx:
                    tx.check(DESKTOP, DesktopRecord, tenant_id, desktop_id,
                             condition=DesktopRecord.assigned_user_id.does_not_exist()
                             | (DesktopRecord.assigned_user_id != user_id))
                    tx.update_key(HOLDER, UserRecord, tenant_id, user.login,
                                  _holder_actions(UserRecord.held.delete({desktop_id})),
                                  condition=UserRecord.id == user_id)
            except TransactionFailed:
                continue  # it is the user's again, or the user is gone: nothing to drop

    def free_in_pool(self, tenant_id: int, pool_id: int) -> list[Desktop]:
        """The pool's desktops that looked claimable when the index was last updated (one Query; the
        claim itself checks the desktop again)."""
        ensure_bound()
        return [desktop_of(record) for record in indexes.query(
            DesktopRecord.by_pool, pool_key(tenant_id, pool_id), filter_condition=claimable_condition())]

    def get_many(self, tenant_id: int, desktop_ids: list[int]) -> list[Desktop]:
        """Desktops read consistently, in the order of `desktop_ids` (missing ones left out)."""
        ensure_bound()
        found = {d.id: d for d in _batch_get(tenant_id, sorted(set(desktop_ids)))}
        return [found[i] for i in desktop_ids if i in found]

    def claim(self, holder: User, desktop_id: int) -> User | None:
        """Assign the desktop to the user if it is still free and the user's holdings are as read: the
        user as written (the desktop in `held`, the next `held_version`), to claim its next desktop with.
        None: another login took the desktop. HolderChanged: the user's holdings changed."""
        ensure_bound()
        tenant_id, user_id = holder.tenant_id, holder.id
        now = int(clock.time())
        desktop = [
            DesktopRecord.assigned_user_id.set(user_id),
            DesktopRecord.user_key.set(user_key(tenant_id, user_id)),
            DesktopRecord.last_offered.set(now),
            DesktopRecord.updated.set(clock.utc_iso()),
            DesktopRecord.version.add(1),
        ]
        try:
            with transaction() as tx:
                tx.update_key(DESKTOP, DesktopRecord, tenant_id, desktop_id, desktop,
                              condition=claimable_condition(user_id))
                tx.update_key(HOLDER, UserRecord, tenant_id, holder.login,
                              _holder_actions(UserRecord.held.add({desktop_id})),
                              condition=_unchanged_holder(holder) & (UserRecord.id == user_id))
        except TransactionFailed as failure:
            if HOLDER in failure.failed:
                raise HolderChanged from failure
            if DESKTOP in failure.failed:
                return None
            raise
        return replace(holder, held=holder.held | {desktop_id}, held_version=(holder.held_version or 0) + 1)

    def save_released(self, desktop: Desktop, user_id: int, holder: User | None = None) -> Desktop:
        """Write a desktop that `take_back` released from `user_id`, under the version it was read at, and
        take it out of the user's `held` set in the same transaction, so the per-user limit counts it free
        at once; the desktop as written. `holder` is the user as the caller read it (else it is read by
        id). A user gone meanwhile has no set to update: the desktop is written alone. Conflict if the
        desktop changed since it was read."""
        ensure_bound()
        tenant_id, desktop_id = desktop.tenant_id, desktop.id
        if holder is None:
            holder = _users.find(tenant_id, user_id)
        if holder is None:
            return _desktops.save(desktop)
        record = record_of(replace(desktop, updated=clock.utc_iso()))
        try:
            with transaction() as tx:
                tx.put(DESKTOP, record)  # pynamodb adds the version check and bumps the version
                tx.update_key(HOLDER, UserRecord, tenant_id, holder.login,
                              _holder_actions(UserRecord.held.delete({desktop_id})),
                              condition=UserRecord.id == user_id)
        except TransactionFailed as failure:
            if DESKTOP in failure.failed or HOLDER not in failure.failed:
                raise Conflict(f"Desktop {desktop_id} was changed by someone else; try again") from failure
            return _desktops.save(desktop)  # the user went away meanwhile: only the desktop is left to write
        return desktop_of(record)


def take_back(desktop: Desktop, released_at: str) -> tuple[Desktop, int | None]:
    """What a release does to the desktop, whoever asks for it (the user, an admin, a plan): the holder is
    cleared and remembered as the last one ("favor previously assigned"), and the time of the release
    stamped (the release plan's timers count from it). The agent's session is kept: it is what the agent
    sees on the desktop, and a user may still be logged in (docs/design.md, "One release").
    The desktop released, and the user id released or None when nobody held it (nothing changed)."""
    user_id = desktop.assigned_user_id
    if user_id is None:
        return desktop, None
    return replace(desktop, assigned_user_id=None, last_user_id=user_id, released_at=released_at), user_id


def released_by(desktop: Desktop, user: User) -> bool:
    """The desktop is free and `user` was the last to hold it (a release sent again after it was applied)."""
    return desktop.assigned_user_id is None and desktop.last_user_id == user.id
