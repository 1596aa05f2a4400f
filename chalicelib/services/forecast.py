"""The forecast of a pool (docs/provisioning.md, "Forecast"): reads its history samples and its center's
provisioning log through the store, lets `domain.forecast` learn the week, and writes the recommended
`time_limits` into the pool when asked (or weekly, in the automatic mode)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from chalicelib import clock
from chalicelib.domain import forecast as rules
from chalicelib.domain import time_limits
from chalicelib.domain.caller import Caller
from chalicelib.domain.entities.pools import Pool, Provision
from chalicelib.domain.errors import BrokerError, Conflict
from chalicelib.services import audit, pools, tenants
from chalicelib.store import history, stores
from chalicelib.store.desktops import set_pool_side_state

log = logging.getLogger("broker.forecast")

AUTO_EVERY_SECONDS = 7 * 86400  # the automatic mode re-applies weekly
AUTO_RETRY_SECONDS = 86400  # too little history: look again a day later
AUTO_PER_RUN = 5  # forecasts one scheduled run computes at most (each reads up to 8 weeks of samples)
DURATION_WINDOW_SECONDS = 30 * 86400


def _event_epoch(event_key: str) -> float:
    moment = datetime.strptime(event_key.split("#", 1)[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=UTC).timestamp()


def ready_durations(tenant_id: int, center_id: int | None, now: float) -> list[float]:
    """Create request to ready, in seconds, of the desktops the center made in the last 30 days (the audit
    log's retention): the duration each `provision.completed` event carries, or for older events the time
    since the `provision.requested` event naming the desktop, of pools provisioning in that center."""
    if center_id is None:
        return []
    pools_here = {p.id for p in stores.pools.iterate(tenant_id) if p.provision_center_id == center_id}
    events = []
    for record in history.provisioning_events_since(tenant_id, now - DURATION_WINDOW_SECONDS):
        details = record.details or {}
        at = _event_epoch(record.event_key)
        if record.type == "provision.requested" and record.pool_id in pools_here:
            events.append(rules.LogEvent(at, "requested", tuple(details.get("names") or ())))
        elif record.type == "provision.completed":
            if details.get("center_id") is not None:
                if int(details["center_id"]) == center_id and details.get("seconds_to_ready") is not None:
                    events.append(rules.LogEvent(at, "ready", (), float(details["seconds_to_ready"])))
            elif record.pool_id in pools_here:
                name = record.message.split("'")[1] if record.message.count("'") >= 2 else ""
                events.append(rules.LogEvent(at, "ready", (name,) if name else ()))
    return rules.ready_durations(events)


def compute(pool: Pool, now: float | None = None) -> tuple[str, rules.Forecast]:
    """The zone read and the forecast of the pool, as of `now`."""
    now = clock.time() if now is None else now
    tenant_id, pool_id = pool.tenant_id, pool.id
    provision = pool.provision or Provision()  # not provisioning: no limits, nothing recommended above 0
    zone_name, zone = time_limits.zone_of(provision.provision_time_zone,
                                          tenants.default_time_zone(tenant_id))
    since = now - rules.WEEKS_CONSIDERED * rules.WEEK_SECONDS
    samples = [rules.Sample(at, int(data.get("assigned_vm") or 0), int(data.get("total_connected") or 0))
               for at, data in history.samples_since(tenant_id, pool_id, since)]
    durations = ready_durations(tenant_id, pool.provision_center_id, now)
    return zone_name, rules.recommend(samples, durations, zone, now,
                                      provision.provision_threshold, provision.provision_max,
                                      provision.provision_forecast_max_cap)


def forecast_of(caller: Caller, pool_id: int) -> tuple[Pool, str, rules.Forecast]:
    pool = stores.pools.get(caller.tenant_id, pool_id)  # another tenant's pool is not found
    return (pool, *compute(pool))


def _write(pool: Pool, result: rules.Forecast, user: str, mode: str) -> Pool:
    """Store the recommended time limits in the pool, with the same checks as a save, and say so."""
    if not pool.provision:
        raise Conflict(f"Pool {pool.id} does not provision: there are no limits to apply")
    body = pools.with_changes(pool, {"provision": {"time_limits": result.time_limits}})
    updated = stores.pools.update(pool, pools.with_settings(pool, body))
    audit.record(pool.tenant_id, "pool.forecast_applied",
                 f"Pool '{pool.name}': the forecast's {len(result.ranges)} time limit(s) applied ({mode})",
                 user=user, pool_id=pool.id,
                 details={"mode": mode, "time_limits": result.time_limits,
                          "sentences": [r.sentence for r in result.ranges]})
    pools.request_check(updated, "forecast applied")
    return updated


def apply(caller: Caller, pool_id: int) -> tuple[Pool, str, rules.Forecast]:
    """`POST .../forecast/apply`: too little history is a conflict that changes nothing."""
    pool = stores.pools.get(caller.tenant_id, pool_id)
    zone, result = compute(pool)
    if not result.enough_history:
        raise Conflict(result.reason)
    return _write(pool, result, caller.login, "manual"), zone, result


def auto_apply_due(pool: Pool, now: float) -> Pool | None:
    """The automatic mode (`provision.provision_forecast_auto`): re-apply when a week has passed since the
    last time (a day after "too little history"). Returns the pool with its new `broker_state` when a
    forecast was computed (None when none was due), so that the caller can bound how many one run
    computes. A failure is logged and tried again a day later."""
    automatic = bool(pool.provision and pool.provision.provision_forecast_auto)
    if not automatic or now < float(pool.broker_state.get("forecast_due_at") or 0):
        return None
    try:
        _, result = compute(pool, now)
        if result.enough_history:
            _write(pool, result, "broker", "automatic")
        due = now + (AUTO_EVERY_SECONDS if result.enough_history else AUTO_RETRY_SECONDS)
    except BrokerError as error:  # e.g. an admin saved the pool meanwhile: the next run tries again
        log.warning("automatic forecast not applied: %s", error,
                    extra={"tenant_id": pool.tenant_id, "pool_id": pool.id})
        due = now + AUTO_RETRY_SECONDS
    fresh = stores.pools.find(pool.tenant_id, pool.id)
    if fresh is None:
        return pool
    state = {**fresh.broker_state, "forecast_due_at": due}
    set_pool_side_state(fresh, broker_state=state)
    return replace(pool, broker_state=state)
