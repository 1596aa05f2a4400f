"""Scheduled functions (EventBridge in AWS, the local timer in `make run`). Thin: each calls a service.
Each is idempotent and safe to run twice at once."""

from __future__ import annotations

import uuid
from typing import Any

from chalice import Blueprint, Rate

from chalicelib.clock import utc_iso

blueprint = Blueprint(__name__)


@blueprint.schedule(Rate(1, unit=Rate.MINUTES), description="Pool size info of every pool, then its check")
def pool_stats_job(event: Any) -> None:
    from chalicelib.services import pool_stats
    pool_stats.run_pool_stats()


@blueprint.schedule(Rate(5, unit=Rate.MINUTES), description="Pool history samples, then the checks")
def pool_history_stats_job(event: Any) -> None:
    from chalicelib.services import pool_stats
    pool_stats.run_pool_history()


@blueprint.schedule(Rate(1, unit=Rate.MINUTES), description="Queue the scans of centers whose poll is due")
def center_scan_job(event: Any) -> None:
    from chalicelib.services import pool_stats
    pool_stats.due_center_scans()


@blueprint.schedule(Rate(1, unit=Rate.MINUTES), description="Apply the release and power-control timers due")
def lifecycle_timers_job(event: Any) -> None:
    from chalicelib.services import timers
    timers.run_due()


def scheduled_event(rule_name: str) -> dict[str, Any]:
    """What EventBridge hands a scheduled function (the local timer of `make run`, the tests and the
    bench invoke the handlers with it, as EventBridge would)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": utc_iso(),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:000000000000:rule/{rule_name}"],
        "detail": {},
    }
