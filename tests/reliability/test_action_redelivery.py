"""Power actions are carried out once per request, however often (and however concurrently) SQS delivers
the message: a reboot, which leaves no state to tell it was done, and a stop that Nova carries out
asynchronously (in-memory cloud, DynamoDB and SQS in moto)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.domain import messages
from chalicelib.domain.cloud import CloudTransient, PowerAction
from chalicelib.jobs.worker import handle_message
from chalicelib.services import desktop_actions
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.repos import AuditStore
from tests.integration.provisioning.conftest import ADMIN, TENANT, Broker, run_together

desktops = DesktopStore()


def ready_desktop(broker: Broker) -> int:
    _, (desktop_id,) = broker.ready_pool(threshold=1, maximum=1)
    return desktop_id


def queued_power(broker: Broker) -> dict[str, Any]:
    [power] = [m for m in broker.aws.queued() if m["type"] == messages.DESKTOP_POWER]
    return power


def power_events() -> list[str]:
    return [e.type for e in AuditStore().list(TENANT, limit=1000) if e.type.startswith("desktop.power")]


def test_a_redelivered_reboot_reboots_once(broker: Broker) -> None:
    desktop_id = ready_desktop(broker)
    desktop_actions.request_action(ADMIN, desktop_id, "reboot")
    message = json.dumps(queued_power(broker))
    for _ in range(3):
        handle_message(message)
    assert broker.cloud.calls["power"] == 1
    assert power_events() == ["desktop.power"]
    assert desktops.get(TENANT, desktop_id).pending_action is None


def test_two_deliveries_of_a_reboot_at_the_same_moment_reboot_once(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    desktop_id = ready_desktop(broker)
    desktop_actions.request_action(ADMIN, desktop_id, "reboot")
    message = json.dumps(queued_power(broker))
    both_read = threading.Barrier(2, timeout=60)
    find = desktop_actions.desktops.find
    first_reads = threading.local()

    def read_together(tenant_id: int, desktop: int) -> Any:
        found = find(tenant_id, desktop)
        if not getattr(first_reads, "done", False):  # both deliveries read the desktop before either writes
            first_reads.done = True
            both_read.wait()
        return found

    monkeypatch.setattr(desktop_actions.desktops, "find", read_together)
    _, errors = run_together(lambda: handle_message(message))
    assert broker.cloud.calls["power"] == 1, "both deliveries rebooted"
    assert not errors, errors
    assert power_events().count("desktop.power") == 1


def test_a_stop_delivered_again_before_nova_reports_shutoff_is_not_sent_again(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real Nova accepts a stop and reports SHUTOFF a moment later; the duplicate arrives in between."""
    desktop_id = ready_desktop(broker)
    power = broker.cloud.power

    def accepted_not_yet_done(server_id: str, action: PowerAction) -> None:
        broker.cloud.calls["power"] += 1  # counted as a call, the state does not change yet

    monkeypatch.setattr(broker.cloud, "power", accepted_not_yet_done)
    desktop_actions.request_action(ADMIN, desktop_id, "stop")
    message = json.dumps(queued_power(broker))
    handle_message(message)
    monkeypatch.setattr(broker.cloud, "power", power)  # a second stop would now meet a conflict
    handle_message(message)
    assert broker.cloud.calls["power"] == 1
    desktop = desktops.get(TENANT, desktop_id)
    assert desktop.last_action_error is None and desktop.last_action == "stop"


def test_of_two_requests_in_a_row_the_later_one_is_carried_out(broker: Broker) -> None:
    """An admin who clicks stop then start before the worker runs gets a started desktop: the stop's
    message finds another request pending and does nothing."""
    desktop_id = ready_desktop(broker)
    desktop_actions.request_action(ADMIN, desktop_id, "stop")
    desktop_actions.request_action(ADMIN, desktop_id, "reboot")
    broker.drain(only={"desktop.power"})
    assert broker.cloud.calls["power"] == 1
    desktop = desktops.get(TENANT, desktop_id)
    assert desktop.last_action == "reboot" and desktop.power_state == "running"


def test_a_delete_the_cloud_failed_is_carried_out_when_the_message_comes_again(broker: Broker) -> None:
    desktop_id = ready_desktop(broker)
    desktop = desktops.get(TENANT, desktop_id)
    desktop = desktops.save(replace(desktop, deletable=True))
    desktop_actions.request_action(ADMIN, desktop_id, "delete")
    [delete] = [m for m in broker.aws.queued() if m["type"] == messages.DESKTOP_DELETE]
    broker.cloud.fail_next("delete_server", CloudTransient("Nova did not answer in time"))
    with pytest.raises(CloudTransient):
        handle_message(json.dumps(delete))  # the worker fails: SQS delivers the message again
    assert desktops.get(TENANT, desktop_id).last_action_error == "Nova did not answer in time"
    handle_message(json.dumps(delete))
    assert desktops.get(TENANT, desktop_id).lifecycle == "deleted" and not broker.cloud.servers
    handle_message(json.dumps(delete))  # and once deleted, a third delivery does nothing
    assert broker.cloud.calls["delete_server"] == 2
