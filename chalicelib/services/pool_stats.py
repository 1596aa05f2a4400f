"""Pool size info (the box beside the reference's Edit Pool form), its history, and the periodic
triggers: each run reads every pool's desktops once (one Query per pool, on the by_pool index),
stores the counts, and queues a provisioning check of each pool those counts show something to create
for (docs/provisioning.md, "Triggers"): a pool that is stocked costs no worker invocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.domain import messages, time_limits
from chalicelib.domain import pools as pool_rules
from chalicelib.domain import provisioning as rules
from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
from chalicelib.domain.desktop_lifecycle import GONE_OR_FAILED, DesktopLifecycle
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.pools import Pool
from chalicelib.domain.errors import BadData
from chalicelib.domain.sessions import CONNECTED, IDLE, LOCKED, LOGGED_IN_STATES
from chalicelib.settings import get_settings
from chalicelib.store import stores
from chalicelib.store.binding import ensure_bound
from chalicelib.store.desktops import DesktopStore, pool_key, set_pool_side_state
from chalicelib.store.models import PoolHistoryRecord

desktops = DesktopStore()
OLD_LOGGED_IN = "logged_in"  # a session state of older records: logged in and connected


def agent_window_seconds() -> int:
    """An agent counts as running with a heartbeat or event within this many seconds."""
    return get_settings().agent_window_seconds


def all_tenant_ids() -> list[int]:
    return list(tenant_zones())


def tenant_zones() -> dict[int, str]:
    """Every tenant's id and its default time zone ("" = UTC), the system tenant first."""
    return {SYSTEM_TENANT_ID: "", **{t.id: t.time_zone for t in stores.tenants.iterate(SYSTEM_TENANT_ID)}}


def agent_running(desktop: Desktop, now: float | None = None) -> bool:
    """The desktop's agent sent an event or heartbeat within the window (pool size info, the admin API)."""
    heartbeat = float(desktop.agent_seen_at or 0)
    return (now or clock.time()) - heartbeat <= agent_window_seconds()


def view_of(desktop: Desktop, now: float | None = None) -> rules.DesktopView:
    session = desktop.session or {}
    return rules.DesktopView(
        power_state=desktop.power_state,
        available=desktop.available,
        assigned=desktop.assigned_user_id is not None,
        agent_running=agent_running(desktop, now),
        logged_in=session.get("state") in (OLD_LOGGED_IN, *LOGGED_IN_STATES),
        connected=session.get("state") in (OLD_LOGGED_IN, CONNECTED, LOCKED, IDLE),
    )


def _live(tenant_id: int, pool_id: int) -> list[Desktop]:
    return [d for d in desktops.of_pool(tenant_id, pool_id) if d.lifecycle not in GONE_OR_FAILED]


def _size(members: list[Desktop]) -> rules.PoolSize:
    now = clock.time()
    return rules.size_of(view_of(d, now) for d in members)


def _refresh(pool: Pool, members: list[Desktop]) -> dict[str, Any]:
    stats = {**_size(members).as_dict(), "counts_updated": clock.utc_iso()}
    set_pool_side_state(pool, stats=stats)
    return stats


def _queue_check_if_needed(pool: Pool, members: list[Desktop], reason: str,
                           tenant_zone: str = "") -> None:
    """Queue the pool's provisioning check when its counts show something to create (`tenant_zone`: the
    tenant's default zone for pools that name none)."""
    if pool_rules.provisioning_blocked(pool.provision, pool.broker_state) is not None:
        return
    provision = pool.provision
    assert provision is not None  # or provisioning_blocked says so
    size = _size(members)
    waiting = sum(1 for d in members if d.lifecycle == DesktopLifecycle.PROVISIONING and not d.instance_id)
    # The limits in force now: a time range takes effect at its start, on the first run after it
    _, limits = time_limits.for_provision(provision, clock.time(), tenant_zone)
    deleting = sum(1 for d in members if d.pending_action == "delete")
    over = bool(provision.provision_limits_enforce) and size.total_vm - deleting > limits.maximum
    if over or rules.has_work(size.total_vm, size.assigned_vm, limits.threshold, limits.maximum, waiting):
        stores.queue.send(messages.pool_check(pool.tenant_id, pool.id, reason))


def run_pool_stats(reason: str = "pool_stats") -> int:
    """Store every pool's size info, then queue its provisioning check. Returns the number of pools."""
    count = 0
    for tenant_id, zone in tenant_zones().items():
        for pool in stores.pools.iterate(tenant_id):
            members = _live(tenant_id, pool.id)
            _refresh(pool, members)
            _queue_check_if_needed(pool, members, reason, zone)
            count += 1
    return count


def run_pool_history(now: float | None = None) -> int:
    """A sample per pool whose `pool_history_interval` has passed, kept `pool_history_age` days; then the
    automatic forecast of the pools that asked for it and are due (at most a few per run)."""
    from chalicelib.services import forecast  # it loads the pool service: only this job needs it

    ensure_bound()
    now = now or clock.time()
    sampled = 0
    forecasts = 0
    for tenant_id, zone in tenant_zones().items():
        for pool in stores.pools.iterate(tenant_id):
            if forecasts < forecast.AUTO_PER_RUN and (forecasted := forecast.auto_apply_due(pool, now)):
                pool = forecasted
                forecasts += 1
            history = pool.log.retain_history
            interval = int(history.pool_history_interval)
            age_days = int(history.pool_history_age)
            if interval <= 0:
                continue
            last = pool.broker_state.get("history_sampled_at", 0)
            if now - float(last) < interval * 60 - 5:
                continue
            members = _live(tenant_id, pool.id)
            stats = _refresh(pool, members)
            PoolHistoryRecord(
                pool_key=pool_key(tenant_id, pool.id),
                ts=int(now),
                data=stats,
                expires_at=datetime.fromtimestamp(now, UTC) + timedelta(days=max(age_days, 1)),
            ).save()
            set_pool_side_state(pool, broker_state={**pool.broker_state, "history_sampled_at": now})
            _queue_check_if_needed(pool, members, "pool_history_stats", zone)
            sampled += 1
    return sampled


def history_of(caller: Caller, pool_id: int, start: float | None, end: float | None,
               limit: int) -> list[dict[str, Any]]:
    """The pool's samples from `start` to `end` (epoch seconds, either open), oldest first, at most
    `limit`: each its size info with `ts` and `time`. NotFound for another tenant's pool."""
    pool = stores.pools.get(caller.tenant_id, pool_id)
    if start is not None and end is not None and start > end:
        raise BadData.field("/query/to", "`to` is before `from`")
    samples = pool_history(caller.tenant_id, pool.id,
                           None if start is None else int(start) + (start % 1 > 0),  # whole seconds inside
                           None if end is None else int(end))
    return [{**(s.data or {}), "ts": int(s.ts), "time": clock.utc_iso(int(s.ts))} for s in samples[:limit]]


def pool_history(tenant_id: int, pool_id: int, start: int | None, end: int | None) -> list[PoolHistoryRecord]:
    ensure_bound()
    key = pool_key(tenant_id, pool_id)
    if start is not None and end is not None:
        condition = PoolHistoryRecord.ts.between(start, end)
    elif start is not None:
        condition = PoolHistoryRecord.ts >= start
    elif end is not None:
        condition = PoolHistoryRecord.ts <= end
    else:
        condition = None
    return list(PoolHistoryRecord.query(key, condition, limit=5000))


def due_center_scans(now: float | None = None) -> int:
    """Queue a scan of every active center whose poll interval has passed."""
    now = now or clock.time()
    queued = 0
    for tenant_id in all_tenant_ids():
        for center in stores.centers.iterate(tenant_id):
            interval = center.poll_interval * 60
            if not center.active or interval <= 0:  # 0: never polled (uncategorized)
                continue
            last = center.last_scan
            last_ts = (
                datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() if last else 0
            )
            if now - last_ts >= interval - 5:
                stores.queue.send(messages.center_scan(tenant_id, int(center.id), "poll interval"))
                queued += 1
    return queued
