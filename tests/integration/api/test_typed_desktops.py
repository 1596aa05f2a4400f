"""The desktop store (chalicelib/store/desktops.py) over moto: typed desktops in and out, the index keys
derived from their fields, a write only under the version read, nothing of the document lost."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.cloud import PowerState
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.errors import Conflict
from chalicelib.store.desktops import DesktopStore, PoolCounters, desktop_of
from chalicelib.store.models import DesktopRecord
from tests.fixtures.aws import AwsStack

desktops = DesktopStore()
TENANT = 5


def _stored(desktop: Desktop) -> DesktopRecord:
    return DesktopRecord.get(TENANT, desktop.id, consistent_read=True)


def _new(**fields: object) -> Desktop:
    return desktops.save(desktops.new(TENANT, 2, 3, "desk-001", lifecycle=DesktopLifecycle.ACTIVE,
                                      power_state=PowerState.RUNNING, **fields))  # type: ignore[arg-type]


def test_a_written_desktop_comes_back_as_written(aws: AwsStack) -> None:
    written = _new(fixed_addresses=("198.51.100.7",), session={"state": "idle", "user": "bob", "since": "t"})
    assert written.version == 1 and written.id > 0
    assert desktops.get(TENANT, written.id) == written
    assert desktops.of_pool(TENANT, 3) == [written] and desktops.of_center(TENANT, 2) == [written]
    assert desktops.find(TENANT + 1, written.id) is None  # another tenant's id


def test_the_index_keys_follow_the_fields(aws: AwsStack) -> None:
    desktop = _new()
    stored = _stored(desktop)
    assert (stored.pool_key, stored.center_key) == ("5#3", "5#2")
    assert (stored.user_key, stored.due_bucket) == (None, None)
    held = desktops.save(replace(desktop, assigned_user_id=8, due_at=1000))
    stored = _stored(held)
    assert (stored.user_key, stored.due_at) == ("5#8", 1000) and stored.due_bucket is not None
    assert [d.id for d in desktops.due(1000, 10)] == [desktop.id]
    released = desktops.save(replace(held, assigned_user_id=None, last_user_id=8, due_at=None))
    stored = _stored(released)
    assert (stored.user_key, stored.last_user_key, stored.due_bucket) == (None, "5#8", None)
    assert released.last_user_id == 8 and list(desktops.due(1000, 10)) == []


def test_a_write_based_on_a_stale_read_is_refused_and_changes_nothing(aws: AwsStack) -> None:
    read_by_one = _new()
    read_by_two = desktops.get(TENANT, read_by_one.id)
    saved = desktops.save(replace(read_by_one, pending_action="stop"))
    assert saved.version == 2
    with pytest.raises(Conflict):
        desktops.save(replace(read_by_two, available=False))
    with pytest.raises(Conflict):
        PoolCounters().move(replace(read_by_two, available=False), None)
    assert desktops.get(TENANT, read_by_one.id) == saved
    assert desktops.stamp_create(read_by_two, 100) is None
    assert not desktops.purge(read_by_two)


def test_keys_of_another_broker_version_survive_a_write_and_nulls_are_not_stored(aws: AwsStack) -> None:
    desktop = _new()
    record = _stored(desktop)
    record.doc = {**record.doc, "from_a_newer_broker": {"x": 1}}
    record.save()
    read = desktop_of(_stored(desktop))
    written = desktops.save(replace(read, pending_action="delete", pending_request=None))
    doc = _stored(written).doc
    assert doc["from_a_newer_broker"] == {"x": 1} and doc["pending_action"] == "delete"
    assert "pending_request" not in doc and None not in doc.values()
