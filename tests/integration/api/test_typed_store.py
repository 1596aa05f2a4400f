"""The typed store (chalicelib/store/repos.py, TypedEntityStore) over moto: what the services rely on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.entities.gateways import Gateway
from chalicelib.domain.errors import Conflict, NotUnique
from chalicelib.store import stores
from tests.fixtures.aws import AwsStack


def _new(name: str = "gw") -> Gateway:
    return stores.gateways.create(Gateway(tenant_id=5, name=name, address="gw.example", url="https://gw.example/"))


def test_a_created_entity_comes_back_as_stored(aws: AwsStack) -> None:
    created = _new()
    assert created.id > 0 and created.version == 1 and created.created
    assert stores.gateways.get(5, created.id) == created
    assert stores.gateways.list(5) == [created]
    assert stores.gateways.find(6, created.id) is None  # another tenant's id


def test_a_save_based_on_a_stale_read_is_refused_and_changes_nothing(aws: AwsStack) -> None:
    read_by_one = _new()
    read_by_two = stores.gateways.get(5, read_by_one.id)
    saved = stores.gateways.update(read_by_one, replace(read_by_one, notes="first"))
    assert saved.version == 2 and saved.notes == "first"
    with pytest.raises(Conflict):
        stores.gateways.update(read_by_two, replace(read_by_two, notes="second"))
    assert stores.gateways.get(5, read_by_one.id).notes == "first"
    with pytest.raises(Conflict):
        stores.gateways.delete(read_by_two)
    assert stores.gateways.find(5, read_by_one.id) is not None


def test_a_rename_moves_the_unique_name(aws: AwsStack) -> None:
    first, second = _new("one"), _new("two")
    with pytest.raises(NotUnique):
        stores.gateways.update(second, replace(second, name="ONE"))
    renamed = stores.gateways.update(first, replace(first, name="uno"))
    assert stores.gateways.update(second, replace(second, name="one")).name == "one"
    assert not stores.gateways.name_taken(5, "two") and stores.gateways.name_taken(5, "uno")
    stores.gateways.delete(renamed)
    assert not stores.gateways.name_taken(5, "uno")
