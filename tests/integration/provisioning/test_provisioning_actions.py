"""The pool's provisioning actions (`provision.center.provisioning_actions`): run in order once the
instance is ACTIVE, each after its wait, before the desktop becomes `active` (in-memory cloud, moto).
Written from the mutation-testing survivors of `chalicelib/services/provisioning.py` (docs/reliability.md,
"Mutation testing"): no selected test ran an action before."""

from __future__ import annotations

from typing import Any

from chalicelib.domain import messages
from chalicelib.domain.cloud import CloudTransient
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.services import provisioning
from chalicelib.store.desktops import DesktopStore
from chalicelib.store.models import AuditRecord
from tests.integration.provisioning.conftest import TENANT, Broker

desktops = DesktopStore()


def action(name: str, wait: int = 0, unit: str = "seconds") -> dict[str, Any]:
    return {"prov_action_action": name, "prov_action_wait_value": wait, "prov_action_wait_unit": unit}


def built(broker: Broker, actions: list[dict[str, Any]], **settings: Any) -> tuple[int, str]:
    """A pool of one desktop with these actions, its instance built (ACTIVE), no follow delivered yet:
    the pool's id and the server's id."""
    center = broker.center()
    broker.drain(only={"center.check"})
    pool = broker.pool(center, threshold=1, maximum=1, provisioning_actions=actions, **settings)
    broker.drain(only={"pool.check"})
    (server_id,) = broker.cloud.servers
    broker.cloud.advance_builds()
    return int(pool.id), server_id


def the_desktop(pool_id: int) -> Desktop:
    (desktop,) = desktops.of_pool(TENANT, pool_id)
    return desktop


def test_poweroff_then_set_available_leaves_a_stopped_available_desktop(broker: Broker) -> None:
    pool_id, server_id = built(broker, [action("poweroff"), action("set_available")])
    broker.drain(only={"desktop.follow"})
    desktop = the_desktop(pool_id)
    assert broker.cloud.servers[server_id].status == "SHUTOFF"
    assert (desktop.lifecycle, desktop.available) == ("active", True)
    assert broker.cloud.calls["power"] == 1


def test_the_last_availability_action_wins(broker: Broker) -> None:
    """Actions run in their order: available, then unavailable, is unavailable (the pool's
    `mark_unavailable` is not read when there are actions)."""
    pool_id, server_id = built(broker, [action("set_available"), action("set_unavailable")])
    broker.drain(only={"desktop.follow"})
    desktop = the_desktop(pool_id)
    assert (desktop.lifecycle, desktop.available) == ("active", False)
    assert broker.cloud.servers[server_id].status == "ACTIVE"
    assert broker.cloud.calls["power"] == 0


def test_start_after_a_poweroff_and_its_wait_runs_the_instance_again(broker: Broker) -> None:
    pool_id, server_id = built(broker, [action("poweroff"), action("start", wait=1), action("set_available")])
    broker.drain(only={"desktop.follow"})
    desktop = the_desktop(pool_id)
    assert broker.cloud.servers[server_id].status == "ACTIVE"
    assert broker.cloud.calls["power"] == 2
    assert (desktop.lifecycle, desktop.available) == ("active", True)


def test_an_action_waits_in_a_delayed_message_then_runs(
    broker: Broker, sent: list[tuple[dict[str, Any], int]]
) -> None:
    """The wait of the first action is a follow-up message delayed by it (never a sleep); that message
    resumes at the action, which then runs without waiting again, and the floating IP is associated
    once."""
    pool_id, server_id = built(broker, [action("poweroff", wait=2, unit="minutes"), action("set_available")],
                               assign_floating_ip=1)
    (follow,) = [m for m in broker.aws.queued() if m["type"] == messages.DESKTOP_FOLLOW]
    sent.clear()
    provisioning.follow_desktop(follow)
    waiting = the_desktop(pool_id)
    assert (waiting.lifecycle, waiting.available) == ("provisioning", False)
    assert waiting.waited_steps == {0}
    assert broker.cloud.servers[server_id].status == "ACTIVE"  # not yet powered off
    [(resume, delay)] = [(m, d) for m, d in sent if m["type"] == messages.DESKTOP_FOLLOW]
    assert delay == 120
    assert (resume["desktop_id"], resume["step"], resume["attempt"]) == (int(waiting.id), 0, 0)

    provisioning.follow_desktop(resume)
    desktop = the_desktop(pool_id)
    assert broker.cloud.servers[server_id].status == "SHUTOFF"
    assert (desktop.lifecycle, desktop.available) == ("active", True)
    assert broker.cloud.calls["associate_floating_ip"] == 1
    assert [m for m, _ in sent if m["type"] == messages.DESKTOP_FOLLOW] == [resume]  # nothing more
    assert [e.type for e in AuditRecord.query(TENANT)].count("provision.completed") == 1


def test_a_wait_further_down_the_list_resumes_at_its_action(
    broker: Broker, sent: list[tuple[dict[str, Any], int]]
) -> None:
    """The actions before a wait run at once; the delayed message names the waiting action's index,
    and the resumed follow runs only the actions from there."""
    pool_id, server_id = built(broker, [action("poweroff"), action("set_available", wait=30)])
    (follow,) = [m for m in broker.aws.queued() if m["type"] == messages.DESKTOP_FOLLOW]
    sent.clear()
    provisioning.follow_desktop(follow)
    assert broker.cloud.servers[server_id].status == "SHUTOFF"
    [(resume, delay)] = [(m, d) for m, d in sent if m["type"] == messages.DESKTOP_FOLLOW]
    assert (resume["step"], delay) == (1, 30)
    assert the_desktop(pool_id).lifecycle == "provisioning"
    provisioning.follow_desktop(resume)
    desktop = the_desktop(pool_id)
    assert (desktop.lifecycle, desktop.available) == ("active", True)
    assert broker.cloud.calls["power"] == 1  # the poweroff was not sent again


def test_start_of_an_instance_already_running_is_done(broker: Broker) -> None:
    """A new instance is running: Nova refuses to start it (409). That `start` is already done; it
    used to be retried every 5 s for ever, the desktop never ready."""
    pool_id, server_id = built(broker, [action("start"), action("set_available")])
    broker.drain(only={"desktop.follow"})
    desktop = the_desktop(pool_id)
    assert (desktop.lifecycle, desktop.available, desktop.power_state) == ("active", True, "running")
    assert broker.cloud.servers[server_id].status == "ACTIVE"


def test_a_follow_retried_after_a_poweroff_took_effect_finishes(broker: Broker) -> None:
    """The poweroff reached Nova but its answer was lost: the retried follow runs the actions from the
    start again, and its poweroff of the stopped instance (refused: 409) counts as done."""
    pool_id, server_id = built(broker, [action("poweroff"), action("set_available")])
    broker.cloud.fail_after_next("power", CloudTransient("Nova did not answer in time"))
    broker.drain(only={"desktop.follow"})
    desktop = the_desktop(pool_id)
    assert broker.cloud.servers[server_id].status == "SHUTOFF"
    assert (desktop.lifecycle, desktop.available) == ("active", True)


def test_a_desktop_powered_off_by_its_actions_is_recorded_stopped(broker: Broker) -> None:
    """The state written when the desktop becomes active is read after the actions, not before."""
    pool_id, _ = built(broker, [action("poweroff"), action("set_unavailable")])
    broker.drain(only={"desktop.follow"})
    desktop = the_desktop(pool_id)
    assert (desktop.lifecycle, desktop.power_state) == ("active", "stopped")


def test_a_wait_of_hours_is_waited_whole_in_links_of_at_most_fifteen_minutes(
    broker: Broker, sent: list[tuple[dict[str, Any], int]]
) -> None:
    """SQS delays one message by 15 minutes at most: a wait of 2 hours (the form takes up to 55 hours) is
    eight delayed messages, and the action runs after the last one, not after the first."""
    pool_id, server_id = built(broker, [action("poweroff", wait=2, unit="hours"), action("set_available")])
    (follow,) = [m for m in broker.aws.queued() if m["type"] == messages.DESKTOP_FOLLOW]
    sent.clear()
    provisioning.follow_desktop(follow)
    delays = []
    while sent:
        (message, delay), = sent
        delays.append(delay)
        assert broker.cloud.servers[server_id].status == "ACTIVE"  # still waiting: not powered off
        assert the_desktop(pool_id).lifecycle == "provisioning"
        sent.clear()
        provisioning.follow_desktop(message)
    assert delays == [900] * 8
    assert broker.cloud.servers[server_id].status == "SHUTOFF"
    assert the_desktop(pool_id).lifecycle == "active"
