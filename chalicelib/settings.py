"""Settings from the environment, read on first use (never at import time) and cached.

Every name has a default so that `chalice package` can import the app with no environment at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    stage: str
    table_prefix: str
    region: str
    dynamodb_endpoint: str | None
    aws_endpoint: str | None
    queue_name: str
    queue_url: str | None
    secret_prefix: str
    session_idle_minutes: int
    audit_retention_days: int
    admin_login: str
    queue_delay_factor: float  # scales the worker's follow-up delays (0 in tests, 1 in AWS)

    def table_name(self, short_name: str) -> str:
        return f"{self.table_prefix}{short_name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    stage = os.environ.get("BROKER_STAGE", "dev")
    aws_endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    return Settings(
        stage=stage,
        table_prefix=os.environ.get("BROKER_TABLE_PREFIX", f"broker-{stage}-"),
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        dynamodb_endpoint=os.environ.get("BROKER_DYNAMODB_ENDPOINT") or aws_endpoint,
        aws_endpoint=aws_endpoint,
        queue_name=os.environ.get("BROKER_QUEUE_NAME", f"broker-{stage}-provisioning"),
        queue_url=os.environ.get("BROKER_QUEUE_URL") or None,
        secret_prefix=os.environ.get("BROKER_SECRET_PREFIX", f"broker/{stage}/"),
        session_idle_minutes=_int("BROKER_SESSION_IDLE_MINUTES", 30),
        audit_retention_days=_int("BROKER_AUDIT_RETENTION_DAYS", 30),
        admin_login=os.environ.get("BROKER_ADMIN_LOGIN", "admin"),
        queue_delay_factor=float(os.environ.get("BROKER_QUEUE_DELAY_FACTOR", "1")),
    )


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
