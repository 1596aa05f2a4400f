"""The store's claim and release: conditional on the desktop and on the user's holdings, never shared."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import Conflict
from chalicelib.services import releases
from chalicelib.store import stores
from chalicelib.store.claims import DesktopClaims, HolderChanged
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.models import DesktopRecord
from chalicelib.store.pending_checks import PendingChecks
from tests.fixtures.aws import AwsStack
from tests.integration.client.conftest import add_desktop

claims = DesktopClaims()


def user(login: str) -> User:
    stores.users.create(User(tenant_id=1, login=login, name=login, is_local=1, role="User"))
    found = stores.users.find_by_login(1, login)
    assert found is not None
    return found


def test_a_claim_is_exclusive_and_recorded_with_the_user(aws: AwsStack) -> None:
    alice, bob = user("alice"), user("bob")
    desktop = add_desktop(1, 1, 1, "d1")
    assert claims.claim(alice, int(desktop.id))
    record = DesktopStore().find(1, int(desktop.id))
    assert record is not None and record.assigned_user_id == alice.id
    assert DesktopRecord.get(1, desktop.id, consistent_read=True).user_key == f"1#{alice.id}"  # by_user
    assert record.version == desktop.version + 1
    assert not claims.claim(bob, int(desktop.id))  # someone else: a lost race
    stored = stores.users.find_by_login(1, "alice")
    assert stored is not None and stored.held == {int(desktop.id)} and stored.held_version == 1
    assert [int(d.id) for d in claims.holdings(stored).desktops] == [int(desktop.id)]


def test_a_claim_on_a_stale_view_of_the_user_is_refused(aws: AwsStack) -> None:
    """Two logins of one user read it at the same version: only the first claim commits."""
    first_view, second_view = user("alice"), stores.users.find_by_login(1, "alice")
    assert second_view is not None
    one, two = add_desktop(1, 1, 1, "d1"), add_desktop(1, 1, 1, "d2")
    assert claims.claim(first_view, int(one.id))
    with pytest.raises(HolderChanged):
        claims.claim(second_view, int(two.id))
    assert DesktopStore().find(1, int(two.id)).assigned_user_id is None  # type: ignore[union-attr]
    # a claim applied once, then sent again on the same view (a retry): the holdings show it, once
    with pytest.raises(HolderChanged):
        claims.claim(second_view, int(one.id))
    fresh = stores.users.find_by_login(1, "alice")
    assert fresh is not None and fresh.held == {int(one.id)}


def test_a_stale_copy_cannot_undo_a_claim(aws: AwsStack) -> None:
    alice = user("alice")
    desktop = add_desktop(1, 1, 1, "d1")
    stale = DesktopStore().find(1, int(desktop.id))
    assert claims.claim(alice, int(desktop.id))
    assert stale is not None
    with pytest.raises(Conflict):
        DesktopStore().save(replace(stale, power_state="stopped"))  # the version moved on: read it again
    assert DesktopStore().find(1, int(desktop.id)).assigned_user_id == alice.id  # type: ignore[union-attr]


def test_unusable_desktops_cannot_be_claimed(aws: AwsStack) -> None:
    alice = user("alice")
    for index, fields in enumerate(
        [
            {"available": False},
            {"lifecycle": "provisioning"},
            {"power_state": "error"},
            {"power_state": "building"},
        ]
    ):
        desktop = add_desktop(1, 1, 1, f"d{index}", **fields)  # type: ignore[arg-type]
        assert not claims.claim(alice, int(desktop.id)), fields
    assert stores.users.find_by_login(1, "alice").held == frozenset()  # type: ignore[union-attr]


def test_release_is_for_the_holder(aws: AwsStack) -> None:
    alice, bob = user("alice"), user("bob")
    desktop = add_desktop(1, 1, 1, "d1")
    claims.claim(alice, int(desktop.id))
    assert releases.release_held(bob, int(desktop.id)) is None
    released = releases.release_held(alice, int(desktop.id))
    assert released is not None and released.assigned_user_id is None
    assert released.last_user_id == alice.id
    assert DesktopRecord.get(1, desktop.id, consistent_read=True).last_user_key == f"1#{alice.id}"
    assert stores.users.find_by_login(1, "alice").held == frozenset()  # type: ignore[union-attr]
    assert releases.release_held(alice, int(desktop.id)) is not None  # a retried release: the same answer
    bob = stores.users.find_by_login(1, "bob")  # type: ignore[assignment]
    assert claims.claim(bob, int(desktop.id))
    assert releases.release_held(alice, int(desktop.id)) is None  # no longer hers


def test_a_desktop_taken_away_elsewhere_leaves_the_holdings_at_the_next_read(aws: AwsStack) -> None:
    """A release plan, an admin or the scan may unassign a desktop without the user's item."""
    alice = user("alice")
    kept, lost = add_desktop(1, 1, 1, "d1"), add_desktop(1, 1, 1, "d2")
    holding_one = claims.claim(alice, int(kept.id))  # each claim: the user as written, for the next one
    assert holding_one is not None
    holding_two = claims.claim(holding_one, int(lost.id))
    assert holding_two is not None
    alice = holding_two
    record = DesktopStore().find(1, int(lost.id))
    assert record is not None
    DesktopStore().save(replace(record, assigned_user_id=None))
    holdings = claims.holdings(alice)
    assert [int(d.id) for d in holdings.desktops] == [int(kept.id)]
    assert holdings.user.held == {int(kept.id)} and holdings.user.held_version == 3


def test_one_pending_check_per_pool_until_cleared_or_expired(aws: AwsStack) -> None:
    pending = PendingChecks()
    assert pending.try_mark(1, 5, 60, now=1000)
    assert not pending.try_mark(1, 5, 60, now=1010)
    assert pending.try_mark(1, 6, 60, now=1010)  # another pool
    assert pending.try_mark(1, 5, 60, now=1061)  # expired
    pending.clear(1, 5)
    assert pending.try_mark(1, 5, 60, now=1062)
