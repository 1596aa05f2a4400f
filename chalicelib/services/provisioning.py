"""Provisioning: keep each pool stocked, exactly as the reference describes, never one too many.

Runs in the worker only (the sole creator of instances). A check reserves the whole deficit with a
compare-and-set on the pool's total (which also takes the {SEQUENCE} numbers), writes the desktop
records in bounded batches, then asks the cloud to create each instance under a deterministic name
carrying the desktop's id in its metadata, without waiting. A follow-up message takes each instance from
BUILD to ACTIVE, associates its floating IP and runs the provisioning actions. A redelivered message or a
crash never creates an instance twice: a reservation left open by a dead check is completed by a later
one, a record left without an instance is created again only by the check that stamps it first (and
after looking its name up), and the scan adopts what a dead worker left behind (docs/provisioning.md).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chalicelib import clock as broker_clock
from chalicelib.clock import epoch_of
from chalicelib.clouds import cloud_for
from chalicelib.domain import messages, time_limits
from chalicelib.domain import pools as pool_rules
from chalicelib.domain import provisioning as rules
from chalicelib.domain.cloud import (
    CloudConflict,
    CloudError,
    CloudNotFound,
    CloudPort,
    CloudTransient,
    PowerAction,
    PowerState,
    ServerInfo,
)
from chalicelib.domain.desktop_lifecycle import GONE_OR_FAILED, DesktopLifecycle
from chalicelib.domain.entities.centers import Center
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.pools import Pool, Provision, ProvisionCenter
from chalicelib.domain.errors import Conflict
from chalicelib.domain.sessions import LOGGED_OUT
from chalicelib.services import action_requests, agents, audit, tenants
from chalicelib.services.centers import center_access, has_cloud
from chalicelib.settings import get_settings
from chalicelib.store import stores
from chalicelib.store.desktops import DesktopStore, PoolCounters, set_pool_side_state
from chalicelib.store.pending_checks import clear_pending_check

log = logging.getLogger("broker.provisioning")

desktops = DesktopStore()
counters = PoolCounters()

# A record without an instance this old was left by a worker that died: its create is claimed (stamped on
# the record, so that one check only creates it) and sent again after looking its name up.
STUCK_AFTER_SECONDS = rules.NO_LIVE_WORKER_AFTER_SECONDS
# How long an instance may stay in BUILD: settings.build_timeout_seconds (BROKER_BUILD_TIMEOUT_SECONDS).
MAX_RESERVE_ATTEMPTS = 10
CREATE_CONCURRENCY = 8
# A desktop this check reserved, and its agent's one-time registration token: only the token's hash is
# stored with the record; the token itself stays in memory until _create_instance puts it into the
# instance's user data.
Fresh = tuple[Desktop, str]


def clock() -> float:
    """Now, in epoch seconds. Ages of records and reservations, and the time limits in force, are
    measured with it (tests move it, or use chalicelib.clock's controlled clock)."""
    return broker_clock.time()


def _age_seconds(iso: str) -> float:
    return clock() - datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def provisioning_blocked(pool: Pool) -> str | None:
    """Why this pool does not provision now, or None (domain/pools.provisioning_blocked)."""
    return pool_rules.provisioning_blocked(pool.provision, pool.broker_state)


def check_pool(tenant_id: int, pool_id: int, reason: str = "") -> int:
    """Create what the pool lacks; return how many creates the cloud accepted."""
    pool = stores.pools.find(tenant_id, pool_id)
    if pool is None or provisioning_blocked(pool):
        return 0
    provision = pool.provision
    assert provision is not None and provision.center is not None  # or provisioning_blocked says why
    center = stores.centers.find(tenant_id, provision.center.id)
    if center is None or not center.active or not has_cloud(center):
        return 0
    members = desktops.of_pool(tenant_id, pool_id)
    if provision.provision_limits_enforce:
        enforce_maximum(pool, members)
    resumed = _resume_abandoned_reservation(pool, center)
    stuck = [
        d
        for d in members
        if d.lifecycle == DesktopLifecycle.PROVISIONING
        and not d.instance_id
        and _age_seconds(d.created) > STUCK_AFTER_SECONDS
    ]
    new_records = _reserve(pool, center, members)
    if new_records:
        audit.record(
            tenant_id,
            "provision.requested",
            f"Pool '{pool.name}': creating {len(new_records)} desktop(s) ({reason or 'check'})",
            pool_id=pool_id,
            details={"names": [d.name for d, _ in new_records]},
        )
    if not (resumed or stuck or new_records):
        return 0
    cloud = cloud_for(center_access(center))
    return _create_all(cloud, pool, center, [*resumed, *new_records], stuck)


def _idle_since(desktop: Desktop) -> float:
    """Since when nobody used the desktop: its last release, session change, claim or creation."""
    session = desktop.session or {}
    moments = [epoch_of(desktop.released_at), epoch_of(session.get("since")),
               float(desktop.last_offered) if desktop.last_offered is not None else None,
               epoch_of(desktop.created)]
    return max(m for m in moments if m is not None) if any(m is not None for m in moments) else 0.0


def _removable(desktop: Desktop) -> bool:
    """Unassigned, deletable, ready, no session and no user reported by its agent, nothing pending."""
    session = desktop.agent_session
    return (desktop.assigned_user_id is None and desktop.deletable
            and desktop.lifecycle == DesktopLifecycle.ACTIVE
            and bool(desktop.instance_id) and not desktop.registered
            and session.state == LOGGED_OUT and session.user is None
            and not desktop.pending_action)


def _tenant_zone_if_needed(pool: Pool) -> str | None:
    """The tenant's default zone when the pool's limits depend on it, else None: a pool check reads the
    tenant only for a pool with time limits and no zone of its own (one GetItem less on every other)."""
    if not time_limits.needs_tenant_zone(pool.provision):
        return None
    return tenants.default_time_zone(pool.tenant_id)


def enforce_maximum(pool: Pool, members: list[Desktop]) -> list[int]:
    """`provision_limits_enforce`: a pool above the maximum in force shrinks to it, through the same
    deletion path as release plans (a pending delete the worker carries out, refused if the desktop is
    claimed meanwhile). Assigned or in-use desktops are kept; how many stay above is in the pool's state."""
    live = [d for d in members if d.lifecycle not in GONE_OR_FAILED]
    _, limits = time_limits.for_provision(pool.provision, clock(), _tenant_zone_if_needed(pool))
    plan = time_limits.shrink(len(live), limits.maximum, [
        time_limits.SurplusCandidate(d.id, _idle_since(d), _removable(d), d.pending_action == "delete")
        for d in live])
    by_id = {d.id: d for d in live}
    requested = []
    for desktop_id in plan.delete:
        out_of_offer = replace(by_id[desktop_id], available=False)  # out of the offer at once
        desktop, message = action_requests.mark_requested(out_of_offer, "delete", "above the pool's maximum",
                                                          broker_clock.utc_iso(clock()))
        try:
            desktops.save(desktop)
        except Conflict:
            continue  # written meanwhile (a claim, a heartbeat): the next check decides again
        stores.queue.send(message)
        requested.append(desktop_id)
        audit.record(pool.tenant_id, "desktop.delete_requested",
                     f"Deletion of '{desktop.name}' requested: pool '{pool.name}' is above its maximum "
                     f"of {limits.maximum}", pool_id=pool.id, desktop_id=desktop_id)
    state = pool.broker_state
    if int(state.get("over_max") or 0) != plan.still_over:
        set_pool_side_state(pool, broker_state={**state, "over_max": plan.still_over})
    return requested


def _create_all(
    cloud: CloudPort,
    pool: Pool,
    center: Center,
    fresh: list[Fresh],
    stuck: list[Desktop],
) -> int:
    """Send every create, a few at a time: a deficit of 50 reaches the cloud in seconds, not minutes.
    `fresh` desktops were written by this check (their names never used); `stuck` ones were left without
    an instance by a worker that died. Once repeated errors stop the pool, the fresh reservations not yet
    used are handed back."""
    stopped = threading.Event()

    def create(item: tuple[Desktop, str | None]) -> bool:
        desktop, token = item
        is_fresh = token is not None
        if stopped.is_set():
            if is_fresh:
                _fail(desktop, pool, "Provisioning stopped before this desktop was created",
                      count_failure=False)
            return False
        # A record older than half the stuck age could be taken over by another check soon: claim it too.
        claim = not is_fresh or _age_seconds(desktop.created) > STUCK_AFTER_SECONDS / 2
        if claim:
            stamped = _claim_create(desktop)
            if stamped is None:
                return False  # another check is creating it
            desktop = stamped
        done = _create_instance(cloud, pool, center, desktop, token, look_first=claim)
        if not done and provisioning_blocked(stores.pools.get(pool.tenant_id, pool.id)):
            stopped.set()
        return done

    work: list[tuple[Desktop, str | None]] = [*fresh, *((d, None) for d in stuck)]
    with ThreadPoolExecutor(
        max_workers=min(CREATE_CONCURRENCY, len(work)), thread_name_prefix="create"
    ) as pool_of_threads:
        return sum(pool_of_threads.map(create, work))


def _claim_create(desktop: Desktop) -> Desktop | None:
    """Stamp the desktop as being created by this check unless another check stamped it less than
    STUCK_AFTER_SECONDS ago; the desktop as stamped, or None. The save checks the record's version: of two
    checks that read it, one stamp is written and the other check leaves the record alone. A stamp of a
    dead check ages out."""
    now = clock()
    stamped = desktop.create_claimed_at
    if stamped is not None and now - float(stamped) <= STUCK_AFTER_SECONDS:
        return None
    return desktops.stamp_create(desktop, int(now))


def _write_reserved(pool: Pool, center: Center, slots: list[tuple[int, int]]) -> list[Fresh]:
    """Write the desktops of a reservation's slots (id, sequence); those this call wrote, with their
    registration tokens."""
    made = [_new_desktop(pool, center, sequence, desktop_id) for desktop_id, sequence in slots]
    tokens = {desktop.id: token for desktop, token in made}
    return [(desktop, tokens[desktop.id]) for desktop in counters.write_reserved([d for d, _ in made])]


def _resume_abandoned_reservation(pool: Pool, center: Center) -> list[Fresh]:
    """A check that died between its reservation and the last of its records left the reservation open
    (the total counts records that were never written). Once it is abandoned, write the missing records
    (each one once, whoever writes it) and close it; this check creates the records it wrote."""
    tenant_id, pool_id = pool.tenant_id, pool.id
    reservation = counters.reservation(tenant_id, pool_id)
    if reservation is None or not reservation.abandoned(clock()):
        return []
    written = _write_reserved(pool, center, list(reservation.slots()))
    counters.close_reservation(tenant_id, pool_id, reservation)
    audit.record(
        tenant_id,
        "provision.resumed",
        f"Pool '{pool.name}': completed an interrupted reservation of {reservation.count} desktop(s); "
        f"{len(written)} record(s) were missing",
        pool_id=pool_id,
        details={"names": [d.name for d, _ in written]},
    )
    return written


def _reserve(pool: Pool, center: Center, members: list[Desktop]) -> list[Fresh]:
    """Reserve the whole deficit on the pool's total, then write its records: racing checks re-read and
    recompute instead of overshooting (ARCHITECTURE.md invariant 2), and a check that loses the race
    takes no {SEQUENCE} number."""
    tenant_id, pool_id = pool.tenant_id, pool.id
    provision = pool.provision
    assert provision is not None  # a provisioning pool's
    assigned = sum(1 for d in members if d.assigned_user_id is not None)
    building: int | None = None  # read only when there is something to create: it reads the whole center
    limit = center.build_limit or rules.DEFAULT_CENTER_BUILD_LIMIT
    ids = range(0)  # desktop ids drawn for this check, kept across lost races
    tenant_zone = _tenant_zone_if_needed(pool)
    for _ in range(MAX_RESERVE_ATTEMPTS):
        seen, open_reservation = counters.state(tenant_id, pool_id)
        if open_reservation is not None:
            return []  # another check is writing its records (or died doing so: see above)
        if seen is None:
            # First check of this pool: start counting from the desktops it already has.
            counters.try_reserve(tenant_id, pool_id, None, desktops.count_in_pool(tenant_id, pool_id))
            continue
        _, limits = time_limits.for_provision(provision, clock(), tenant_zone)
        wanted = rules.deficit(seen, assigned, limits.threshold, limits.maximum)
        if wanted == 0:
            return []
        if building is None:
            building = sum(1 for d in desktops.of_center(tenant_id, int(center.id))
                           if d.lifecycle == DesktopLifecycle.PROVISIONING)
        count = rules.bounded_by_center(wanted, building, limit)
        if count == 0:
            return []
        if len(ids) < count:
            ids = desktops.new_ids(count)
        reservation = counters.reserve(
            tenant_id, pool_id, seen=seen, count=count, first_id=ids[0],
            first_value=provision.provision_vm_name_next_value or 1, now=clock(),
        )
        if reservation is None:
            continue
        written = _write_reserved(pool, center, list(reservation.slots()))
        counters.close_reservation(tenant_id, pool_id, reservation)
        return written
    log.warning("pool %s: gave up reserving after %s races", pool_id, MAX_RESERVE_ATTEMPTS)
    return []


def _new_desktop(pool: Pool, center: Center, sequence: int, desktop_id: int) -> Fresh:
    provision = pool.provision
    assert provision is not None and provision.center is not None  # a provisioning pool's
    name, display_name = rules.desktop_names(provision, sequence)
    delete_volume = bool(provision.center.delete_volume_on_instance_delete)
    desktop = desktops.new(
        pool.tenant_id,
        int(center.id),
        pool.id,
        name,
        display_name=display_name,
        lifecycle=DesktopLifecycle.PROVISIONING,
        available=False,
        deletable=bool(provision.mark_deletable),
        sequence=sequence,
        created_by_broker=True,
        delete_volume_on_instance_delete=delete_volume,
        desktop_id=desktop_id,
    )
    return agents.new_registration(desktop)


def metadata_for(desktop: Desktop) -> dict[str, str]:
    return {
        rules.METADATA_DESKTOP: str(desktop.id),
        rules.METADATA_POOL: str(desktop.pool_id or ""),
        rules.METADATA_TENANT: str(desktop.tenant_id),
    }


def _ours(server: ServerInfo, desktop: Desktop) -> bool:
    return server.metadata.get(rules.METADATA_DESKTOP) == str(desktop.id)


def _create_instance(
    cloud: CloudPort, pool: Pool, center: Center, desktop: Desktop, token: str | None, look_first: bool,
) -> bool:
    """Ask the cloud for this desktop's instance unless it already exists. False on a cloud error.
    `token`: the registration token made with the record, or None (a create retried by a later run): a
    new one, whose hash the save after the create stores. `look_first`: an instance of this record may
    exist already (a claimed or stuck record): look for it before creating one."""
    try:
        existing = [s for s in cloud.find_servers(desktop.name) if _ours(s, desktop)] if look_first else []
        if existing:
            server = existing[0]
        else:
            assert pool.provision is not None and pool.provision.center is not None  # a provisioning pool's
            if token is None:
                desktop, token = agents.new_registration(desktop)
            spec = rules.server_spec(
                pool.provision.center,
                center.network_uuid,
                desktop.name,
                metadata_for(desktop),
                user_data=agents.user_data_for(desktop, token),
            )
            server = cloud.create_server(spec)
    except CloudTransient as error:
        # The create may or may not have happened: leave the record without an instance. The scan links
        # the server if it exists (by its metadata); a later check retries the create if it does not.
        log.warning(
            "desktop %s: create not confirmed (%s); will be resolved later", desktop.id, error.message
        )
        return False
    except CloudError as error:
        _fail(desktop, pool, error.message)
        return False
    desktops.save(replace(desktop, instance_id=server.id, power_state=server.power_state))
    stores.queue.send(messages.desktop_follow(desktop.tenant_id, desktop.id), delay_seconds=5)
    return True


def _fail(desktop: Desktop, pool: Pool | None, message: str, count_failure: bool = True) -> None:
    """The desktop failed to provision: keep it visible with the cloud's message, out of the pool's count."""
    tenant_id, pool_id = desktop.tenant_id, desktop.pool_id
    failed = replace(desktop, lifecycle=DesktopLifecycle.ERROR, power_state=PowerState.ERROR, available=False,
                     error=message, failed_pool_id=pool_id)
    counters.move(failed, None)  # out of the pool's count, in the same write
    audit.record(
        tenant_id,
        "provision.failed",
        f"Desktop '{desktop.name}' failed: {message}",
        pool_id=pool_id,
        desktop_id=desktop.id,
    )
    if pool is not None and pool_id is not None and count_failure:
        failures = counters.add_failure(tenant_id, pool_id)
        if rules.should_stop_after(failures):
            stop_pool_provisioning(pool, f"{failures} provisioning errors in a row; last: {message}")


def stop_pool_provisioning(pool: Pool, reason: str) -> None:
    """Leostream's "stopped by the broker on error": nothing loops; an admin turns it back on."""
    set_pool_side_state(
        pool,
        broker_state={
            "stopped_by_broker": True,
            "reason": reason,
            "at": broker_clock.utc_iso(),
        },
    )
    audit.record(
        pool.tenant_id,
        "provision.stopped",
        f"Pool '{pool.name}': provisioning stopped: {reason}",
        pool_id=pool.id,
    )


def follow_desktop(message: dict[str, Any]) -> None:
    """Take one new desktop from BUILD to usable (or to a visible error)."""
    tenant_id, desktop_id = int(message["tenant_id"]), int(message["desktop_id"])
    attempt, step = int(message.get("attempt", 0)), int(message.get("step", 0))
    desktop = desktops.find(tenant_id, desktop_id)
    if desktop is None or desktop.lifecycle != DesktopLifecycle.PROVISIONING or not desktop.instance_id:
        return
    wait_left = int(message.get("wait_left") or 0)
    if wait_left > 0:  # an action's wait longer than one message's delay: the next link of its chain
        stores.queue.send(*messages.waiting_follow(tenant_id, desktop_id, step, wait_left))
        return
    center = stores.centers.find(tenant_id, desktop.center_id)
    pool = stores.pools.find(tenant_id, desktop.pool_id) if desktop.pool_id else None
    if center is None:
        return
    cloud = cloud_for(center_access(center))
    try:
        server = cloud.get_server(desktop.instance_id)
    except CloudError as error:
        _retry_follow(desktop, attempt, step, f"cloud unavailable: {error.message}")
        return
    if server is None:
        _fail(desktop, pool, "The instance disappeared while it was being built")
        return
    if server.power_state is PowerState.ERROR:
        _fail(desktop, pool, server.fault or "The instance went to ERROR")
        _delete_quietly(cloud, desktop)
        return
    if server.power_state is PowerState.BUILDING:
        build_timeout = get_settings().build_timeout_seconds
        if _age_seconds(desktop.created) > build_timeout:
            within = f"{build_timeout // 60} minutes" if build_timeout >= 120 else f"{build_timeout} seconds"
            _fail(desktop, pool, f"The build did not finish within {within}")
            _delete_quietly(cloud, desktop)
        else:
            _retry_follow(desktop, attempt, step, None)
        return
    _finish(cloud, desktop, pool, server, step)


def _retry_follow(desktop: Desktop, attempt: int, step: int, note: str | None) -> None:
    if note:
        log.info("desktop %s: %s", desktop.id, note)
    delay = min(60, 5 * 2 ** min(attempt, 4))  # 5, 10, 20, 40, 60 s: bounded polling, never a tight loop
    stores.queue.send(
        messages.desktop_follow(desktop.tenant_id, desktop.id, attempt + 1, step),
        delay_seconds=delay,
    )


def _delete_quietly(cloud: CloudPort, desktop: Desktop) -> None:
    try:
        cloud.delete_server(desktop.instance_id, delete_volumes=desktop.delete_volume_on_instance_delete)
    except CloudNotFound:
        pass
    except CloudError as error:  # the scan removes it later (it carries our metadata)
        log.warning("could not delete failed instance %s: %s", desktop.instance_id, error.message)


def _finish(
    cloud: CloudPort, desktop: Desktop, pool: Pool | None, server: ServerInfo, step: int
) -> None:
    provision = (pool.provision if pool else None) or Provision()  # a pool deleted meanwhile: no settings
    center = provision.center or ProvisionCenter()
    actions = center.provisioning_actions
    try:
        if step == 0 and center.assign_floating_ip and not server.floating_addresses:
            address = cloud.associate_floating_ip(server.id)
            server = cloud.get_server(server.id) or server
            desktop = replace(desktop, floating_ip=address)
        for index in range(max(step, 0), len(actions)):
            action = actions[index]
            wait = rules.wait_seconds(action)
            if wait and index not in desktop.waited_steps:
                desktops.save(replace(desktop, waited_steps=desktop.waited_steps | {index}))
                stores.queue.send(*messages.waiting_follow(desktop.tenant_id, desktop.id, index, wait))
                return
            desktop = _run_action(cloud, desktop, action.prov_action_action)
        if any(a.prov_action_action in _POWER_ACTIONS for a in actions[max(step, 0):]):
            server = cloud.get_server(server.id) or server  # its power state after the actions
    except CloudError as error:
        _retry_follow(desktop, 0, step, f"finishing failed: {error.message}")
        return
    if not actions:
        desktop = replace(desktop, available=rules.initially_available(provision))
    desktop = desktops.save(apply_server(replace(desktop, lifecycle=DesktopLifecycle.ACTIVE), server))
    if desktop.pool_id:
        counters.reset_failures(desktop.tenant_id, desktop.pool_id)
    audit.record(
        desktop.tenant_id,
        "provision.completed",
        f"Desktop '{desktop.name}' is ready",
        pool_id=desktop.pool_id,
        desktop_id=desktop.id,
        details={
            "instance_id": server.id,
            "addresses": list(server.fixed_addresses + server.floating_addresses),
            # The forecast's "create request to ready" (the record is written when the check reserves it)
            "center_id": desktop.center_id,
            "seconds_to_ready": round(max(0.0, clock() - (epoch_of(desktop.created) or clock())), 1),
        },
    )


# The provisioning actions that power the instance: the call, and the state that shows it done.
_POWER_ACTIONS = {
    "start": (PowerAction.START, PowerState.RUNNING),
    "poweroff": (PowerAction.STOP, PowerState.STOPPED),
}


def _run_action(cloud: CloudPort, desktop: Desktop, action: str) -> Desktop:
    """Carry out one provisioning action; the desktop as it changes (not saved here)."""
    if action in _POWER_ACTIONS:
        _power(cloud, desktop.instance_id, *_POWER_ACTIONS[action])
    elif action == "set_available":
        return replace(desktop, available=True)
    elif action == "set_unavailable":
        return replace(desktop, available=False)
    return desktop


def _power(cloud: CloudPort, server_id: str, action: PowerAction, result: PowerState) -> None:
    """Nova refuses (409) to start a running instance or to stop a stopped one: such an action is already
    done (a new instance is running; a retried follow meets the actions it carried out before)."""
    try:
        cloud.power(server_id, action)
    except CloudConflict:
        current = cloud.get_server(server_id)
        if current is None or current.power_state is not result:
            raise


def apply_server(desktop: Desktop, server: ServerInfo) -> Desktop:
    """The desktop with what the cloud says about its instance (not saved here)."""
    return replace(
        desktop,
        instance_id=server.id,
        power_state=server.power_state,
        nova_status=server.status,
        fault=server.fault,
        fixed_addresses=tuple(server.fixed_addresses),
        # Nova's view of a new floating IP lags behind Neutron's: keep the one we associated meanwhile.
        floating_addresses=tuple(server.floating_addresses)
        or ((desktop.floating_ip,) if desktop.floating_ip else ()),
        availability_zone=server.availability_zone,
        flavor=server.flavor,
        image=server.image,
        volume_ids=tuple(server.volume_ids),
    )


def handle_pool_check(message: dict[str, Any]) -> None:
    # Let the next login's trigger queue a new check from now on (bursts of logins queue one at a time).
    clear_pending_check(int(message["tenant_id"]), int(message["pool_id"]))
    check_pool(int(message["tenant_id"]), int(message["pool_id"]), message.get("reason", ""))
