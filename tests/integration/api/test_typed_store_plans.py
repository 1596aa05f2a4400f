"""The plans' typed store over moto: one table, each record read back as the entity of its kind, names
unique per kind."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.entities.plans import PowerControlPlanEntity, ProtocolPlanEntity, ReleasePlanEntity
from chalicelib.domain.errors import Conflict, NotUnique
from chalicelib.store import stores
from tests.fixtures.aws import AwsStack


def test_each_plan_comes_back_as_the_entity_of_its_kind(aws: AwsStack) -> None:
    protocol = stores.plans.create(ProtocolPlanEntity(tenant_id=5, name="Default", protocol="vnc"))
    release = stores.plans.create(ReleasePlanEntity(tenant_id=5, name="Default",
                                                    on_idle={"action": "lock", "after_minutes": 10}))
    power = stores.plans.create(PowerControlPlanEntity(tenant_id=5, name="Default"))
    assert stores.plans.get(5, protocol.id) == protocol and protocol.port == 5900
    assert stores.plans.get(5, release.id) == release and release.on_logout == {"action": "keep"}
    assert stores.plans.get(5, power.id) == power
    assert {type(plan) for plan in stores.plans.list(5)} == {ProtocolPlanEntity, ReleasePlanEntity,
                                                            PowerControlPlanEntity}
    [batched] = stores.plans.batch_get(5, [release.id]).values()
    assert batched.on_idle == {"action": "lock", "after_minutes": 10}
    with pytest.raises(NotUnique):
        stores.plans.create(ReleasePlanEntity(tenant_id=5, name="default"))


def test_a_plan_saved_on_a_stale_read_is_refused(aws: AwsStack) -> None:
    read_by_one = stores.plans.create(ReleasePlanEntity(tenant_id=5, name="r"))
    read_by_two = stores.plans.get(5, read_by_one.id)
    saved = stores.plans.update(read_by_one, replace(read_by_one, notes="first"))
    assert saved.kind == "release" and saved.notes == "first"
    with pytest.raises(Conflict):
        stores.plans.update(read_by_two, replace(read_by_two, notes="second"))
    assert stores.plans.get(5, read_by_one.id).notes == "first"
