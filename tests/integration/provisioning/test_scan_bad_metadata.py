"""One instance with bad broker metadata (anyone with access to the project can set it) is skipped and
logged; the scan goes on with the others and its message never fails (in-memory cloud, moto)."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.domain import messages
from chalicelib.domain import provisioning as rules
from chalicelib.domain.cloud import ServerSpec
from chalicelib.jobs.worker import handle_message
from chalicelib.services import scan
from chalicelib.store.desktops import DesktopStore, PoolCounters
from tests.integration.provisioning.conftest import TENANT, Broker

desktops = DesktopStore()
BAD = {
    "letters": {rules.METADATA_TENANT: str(TENANT), rules.METADATA_DESKTOP: "abc"},
    "bad-pool": {rules.METADATA_TENANT: str(TENANT), rules.METADATA_DESKTOP: "99999",
                 rules.METADATA_POOL: "x"},
    "bad-tenant": {rules.METADATA_TENANT: "seven"},
    "huge": {rules.METADATA_TENANT: str(TENANT), rules.METADATA_DESKTOP: str(2**64)},
    "negative": {rules.METADATA_TENANT: str(TENANT), rules.METADATA_DESKTOP: "-3"},
}


def make(broker: Broker, name: str, metadata: dict[str, str]) -> str:
    spec = ServerSpec(name=name, metadata=metadata, image="cirros-fake", flavor="m1.tiny", network="private")
    return broker.cloud.create_server(spec).id


def test_instances_with_bad_broker_metadata_are_skipped_and_the_scan_goes_on(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    center = broker.center()
    pool_id = int(broker.pool(center, threshold=2, maximum=2).id)
    broker.drain(only={"pool.check"})
    broker.cloud.advance_builds()
    broker.drain(only={"desktop.follow"})
    bad_ids = [make(broker, name, metadata) for name, metadata in BAD.items()]
    foreign = make(broker, "hand-made", {})
    gone = desktops.of_pool(TENANT, pool_id)[0]
    broker.cloud.vanish(gone.instance_id)

    with caplog.at_level(logging.WARNING, logger="broker.scan"):
        result = scan.scan_center(TENANT, int(center.id))

    assert result["skipped"] == len(BAD)
    assert result["new"] == 1 and result["gone"] == 1 and result["adopted"] == 0, result
    known = {d.instance_id for d in desktops.of_center(TENANT, int(center.id))}
    assert foreign in known and not known & set(bad_ids)
    assert desktops.get(TENANT, int(gone.id)).lifecycle == "deleted"
    for server_id in bad_ids:
        assert any(server_id in r.getMessage() for r in caplog.records), server_id
    # The same scan as the worker runs it: nothing raised, so nothing goes to the dead-letter queue.
    handle_message(json.dumps(messages.center_scan(TENANT, int(center.id), "poll interval")))
    assert PoolCounters().total(TENANT, pool_id) == 2  # one left, one found by the center definition


def test_a_linked_instance_whose_metadata_was_changed_keeps_its_desktop(broker: Broker) -> None:
    """The instance id links it: its metadata is not needed, so changing it hides nothing."""
    center = broker.center()
    pool_id = int(broker.pool(center, threshold=1, maximum=1).id)
    broker.drain(only={"pool.check"})
    [desktop] = desktops.of_pool(TENANT, pool_id)
    server = broker.cloud.servers[desktop.instance_id]
    broker.cloud.servers[server.id] = type(server)(**{**server.__dict__,
                                                      "metadata": {rules.METADATA_DESKTOP: "oops"}})
    result = scan.scan_center(TENANT, int(center.id))
    assert result["skipped"] == 0 and result["gone"] == 0
    assert desktops.get(TENANT, int(desktop.id)).instance_id == server.id
