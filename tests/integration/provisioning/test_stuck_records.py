"""A record left without an instance whose create did reach the cloud: the check that takes it over looks
its name up first and links the instance that carries its desktop's id, never one that only shares the
name (in-memory cloud, moto). Written from the mutation-testing survivors of
`chalicelib/services/provisioning.py` (`_ours` ran under no selected test; docs/reliability.md)."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.domain import provisioning as rules
from chalicelib.domain.cloud import CloudTransient
from chalicelib.services import provisioning
from chalicelib.store.desktops import DesktopStore
from tests.integration.provisioning.conftest import TENANT, Broker

desktops = DesktopStore()


def created_but_unanswered(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, str]:
    """A pool of one whose create Nova carried out but whose answer was lost, the record now stuck: the
    pool's id, the record's id and the server's id."""
    center = broker.center()
    broker.cloud.fail_after_next("create_server", CloudTransient("the cloud did not answer in time"))
    pool_id = int(broker.pool(center, threshold=1, maximum=1).id)
    broker.drain(only={"pool.check"})
    [record] = desktops.of_pool(TENANT, pool_id)
    [server_id] = broker.cloud.servers
    assert record.instance_id is None and record.lifecycle == "provisioning"
    later = provisioning.clock() + provisioning.STUCK_AFTER_SECONDS + 1
    monkeypatch.setattr(provisioning, "clock", lambda: later)
    return pool_id, int(record.id), server_id


def test_a_stuck_record_takes_its_own_instance_instead_of_creating_another(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_id, desktop_id, server_id = created_but_unanswered(broker, monkeypatch)
    creates = broker.cloud.calls["create_server"]
    assert provisioning.check_pool(TENANT, pool_id, "stuck") == 1
    assert broker.cloud.calls["create_server"] == creates
    assert list(broker.cloud.servers) == [server_id]
    assert desktops.get(TENANT, desktop_id).instance_id == server_id


def test_an_instance_that_only_shares_the_name_is_not_taken(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone else's instance named like the desktop (its metadata names another desktop) is left alone:
    the stuck record gets an instance of its own."""
    pool_id, desktop_id, server_id = created_but_unanswered(broker, monkeypatch)
    other = broker.cloud.servers[server_id]
    broker.cloud.servers[server_id] = dataclasses.replace(
        other, metadata={**other.metadata, rules.METADATA_DESKTOP: str(desktop_id + 1000)})
    assert provisioning.check_pool(TENANT, pool_id, "stuck") == 1
    linked = desktops.get(TENANT, desktop_id).instance_id
    assert linked is not None and linked != server_id
    assert broker.cloud.servers[linked].metadata[rules.METADATA_DESKTOP] == str(desktop_id)
