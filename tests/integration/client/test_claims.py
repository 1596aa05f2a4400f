"""The store's claim and release: conditional, idempotent for the same user, never shared."""

from __future__ import annotations

from chalicelib.store.assignments import DesktopClaims, PendingChecks
from chalicelib.store.desktops import DesktopStore
from tests.fixtures.aws import AwsStack
from tests.integration.client.conftest import add_desktop

claims = DesktopClaims()


def test_a_claim_is_exclusive_and_a_retry_by_the_same_user_succeeds(aws: AwsStack) -> None:
    desktop = add_desktop(1, 1, 1, "d1")
    first = claims.claim(1, int(desktop.id), 7)
    assert first is not None and first.assigned_user_id == 7 and first.user_key == "1#7"
    assert first.version == desktop.version + 1
    assert claims.claim(1, int(desktop.id), 8) is None  # someone else: a lost race
    again = claims.claim(1, int(desktop.id), 7)  # botocore retrying the first call after a timeout
    assert again is not None and again.assigned_user_id == 7


def test_a_stale_copy_cannot_undo_a_claim(aws: AwsStack) -> None:
    import pytest
    from pynamodb.exceptions import PutError

    desktop = add_desktop(1, 1, 1, "d1")
    stale = DesktopStore().find(1, int(desktop.id))
    assert claims.claim(1, int(desktop.id), 7) is not None
    assert stale is not None
    stale.power_state = "stopped"
    with pytest.raises(PutError):
        DesktopStore().save(stale)  # the version moved on: the worker must read again
    assert claims.get(1, int(desktop.id)).assigned_user_id == 7  # type: ignore[union-attr]


def test_unusable_desktops_cannot_be_claimed(aws: AwsStack) -> None:
    for index, fields in enumerate(
        [
            {"available": False},
            {"lifecycle": "provisioning"},
            {"power_state": "error"},
            {"power_state": "building"},
        ]
    ):
        desktop = add_desktop(1, 1, 1, f"d{index}", **fields)  # type: ignore[arg-type]
        assert claims.claim(1, int(desktop.id), 7) is None, fields


def test_release_is_for_the_holder_and_idempotent(aws: AwsStack) -> None:
    desktop = add_desktop(1, 1, 1, "d1")
    claims.claim(1, int(desktop.id), 7)
    assert claims.release(1, int(desktop.id), 8) is None
    released = claims.release(1, int(desktop.id), 7)
    assert released is not None and released.assigned_user_id is None and released.last_user_key == "1#7"
    assert claims.release(1, int(desktop.id), 7) is not None  # a retried release
    claims.claim(1, int(desktop.id), 8)
    assert claims.release(1, int(desktop.id), 7) is None


def test_one_pending_check_per_pool_until_cleared_or_expired(aws: AwsStack) -> None:
    pending = PendingChecks()
    assert pending.try_mark(1, 5, 60, now=1000)
    assert not pending.try_mark(1, 5, 60, now=1010)
    assert pending.try_mark(1, 6, 60, now=1010)  # another pool
    assert pending.try_mark(1, 5, 60, now=1061)  # expired
    pending.clear(1, 5)
    assert pending.try_mark(1, 5, 60, now=1062)
