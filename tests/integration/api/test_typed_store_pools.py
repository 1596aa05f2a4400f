"""The typed store of pools over moto: the jobs' side attributes (`stats`, `broker_state`) are read with the
pool and never written by the store's create or update (docs/design.md, "Typed entities")."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.entities.pools import Pool, PoolDefinition
from chalicelib.store import stores
from chalicelib.store.desktops import set_pool_side_state
from tests.fixtures.aws import AwsStack


def _new(**side: object) -> Pool:
    return stores.pools.create(Pool(tenant_id=5, name="p", pool_definition=PoolDefinition(
        restrict_by="C", server_ids=[1]), **side))  # type: ignore[arg-type]


def test_a_create_leaves_the_side_attributes_to_the_jobs(aws: AwsStack) -> None:
    created = _new(stats={"total_vm": 9}, broker_state={"stopped_by_broker": True})
    assert created.stats == {} and created.broker_state == {}
    assert stores.pools.get(5, created.id) == created
    assert stores.pools.get(5, created.id).pool_definition.server_ids == [1]


def test_the_side_attributes_are_read_and_an_update_never_writes_them(aws: AwsStack) -> None:
    created = _new()
    set_pool_side_state(created, stats={"total_vm": 2}, broker_state={"over_max": 1})
    read = stores.pools.get(5, created.id)
    assert read.stats == {"total_vm": 2} and read.broker_state == {"over_max": 1}

    saved = stores.pools.update(read, replace(read, notes="edited", stats={}, broker_state={"x": 1}))
    assert (saved.notes, saved.stats, saved.broker_state) == ("edited", {"total_vm": 2}, {"over_max": 1})
    fresh = stores.pools.get(5, created.id)
    assert (fresh.notes, fresh.stats, fresh.broker_state) == ("edited", {"total_vm": 2}, {"over_max": 1})
