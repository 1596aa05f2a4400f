"""Settings from the environment, read on first use (never at import time) and cached.

Every name has a default so that `chalice package` can import the app with no environment at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


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
    # Desktop lifecycle (docs/lifecycle.md, docs/agent-protocol.md).
    agent_window_seconds: int = 180  # "agent running" = a heartbeat or event within this window
    agent_heartbeat_seconds: int = 30  # how often the broker asks agents to send a heartbeat
    # A registration token expires this long after it was issued (docs/agent-protocol.md).
    agent_registration_seconds: int = 4 * 3600
    purge_deleted_days: int = 7  # deleted desktop records are removed by the scan this long after deletion
    orphan_policy: str = "adopt"  # instances with our metadata and no record: "adopt" or "remove"
    orphan_grace_minutes: int = 30  # "remove" waits this long after the scan first saw the orphan
    public_url: str | None = None  # the broker's URL as desktops reach it (written into user data)
    # The cloud adapter's read timeout per request (connect: 5 s), and how long an instance may stay in
    # BUILD before its desktop is marked error (docs/clouds.md, docs/provisioning.md).
    cloud_read_timeout_seconds: float = 30.0
    build_timeout_seconds: int = 30 * 60
    # Logins (docs/security.md): attempt slots per window and the lock, shared by the admin API and end
    # users; an admin session's absolute lifetime beside its idle timeout; an end user's token lifetime.
    login_max_failures: int = 5
    login_failure_window_seconds: int = 300
    login_lockout_seconds: int = 300
    session_max_hours: int = 12
    client_token_minutes: int = 480
    # Set by the deployment (infra/): it created the stage's fixed secrets (the token signing key), so
    # the code never creates them, which its IAM role would refuse anyway (docs/deploy.md, "IAM").
    deployed_secrets: bool = False
    # One deadline for an LDAP login across all the server's URLs and operations, below the API's own
    # time limit (API Gateway gives up after 29 s): docs/ldap.md.
    ldap_deadline_seconds: float = 15.0
    # How long a queued pool check stops others from being queued, if the worker never clears it.
    pool_check_pending_seconds: int = 60
    client_retry_after_seconds: int = 30  # the Retry-After of a login offered no desktop yet
    client_cache_seconds: float = 120.0  # in-process caches of plans, policies and tokens
    audit_unauthenticated_per_minute: int = 60  # audited events without credentials, per tenant
    log_level: str = "INFO"

    def table_name(self, short_name: str) -> str:
        return f"{self.table_prefix}{short_name}"


_current: Settings | None = None


def get_settings() -> Settings:
    """The settings every module reads (cached: read once per process)."""
    global _current
    if _current is None:
        _current = read_settings()
    return _current


def read_settings() -> Settings:
    """The environment as it is now, uncached (for what is fixed at import, such as the queue's name)."""
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
        agent_window_seconds=max(1, _int("BROKER_AGENT_WINDOW_SECONDS", 180)),
        agent_heartbeat_seconds=max(5, _int("BROKER_AGENT_HEARTBEAT_SECONDS", 30)),
        agent_registration_seconds=max(60, _int("BROKER_AGENT_REGISTRATION_SECONDS", 4 * 3600)),
        purge_deleted_days=max(0, _int("BROKER_PURGE_DELETED_DAYS", 7)),
        orphan_policy="remove" if os.environ.get("BROKER_ORPHAN_POLICY", "adopt").strip().lower() == "remove"
        else "adopt",
        orphan_grace_minutes=max(0, _int("BROKER_ORPHAN_GRACE_MINUTES", 30)),
        public_url=(os.environ.get("BROKER_PUBLIC_URL") or "").strip().rstrip("/") or None,
        cloud_read_timeout_seconds=max(0.1, float(os.environ.get("BROKER_CLOUD_READ_TIMEOUT_SECONDS") or 30)),
        build_timeout_seconds=max(1, _int("BROKER_BUILD_TIMEOUT_SECONDS", 30 * 60)),
        login_max_failures=max(1, _int("BROKER_LOGIN_MAX_FAILURES", 5)),
        login_failure_window_seconds=max(1, _int("BROKER_LOGIN_FAILURE_WINDOW_SECONDS", 300)),
        login_lockout_seconds=max(1, _int("BROKER_LOGIN_LOCKOUT_SECONDS", 300)),
        session_max_hours=max(1, _int("BROKER_SESSION_MAX_HOURS", 12)),
        client_token_minutes=max(1, _int("BROKER_CLIENT_TOKEN_MINUTES", 480)),
        deployed_secrets=os.environ.get("BROKER_DEPLOYED_SECRETS", "").strip().lower() in ("1", "true"),
        ldap_deadline_seconds=max(0.1, float(os.environ.get("BROKER_LDAP_DEADLINE_SECONDS") or 15)),
        pool_check_pending_seconds=max(1, _int("BROKER_POOL_CHECK_PENDING_SECONDS", 60)),
        client_retry_after_seconds=max(1, _int("BROKER_CLIENT_RETRY_AFTER_SECONDS", 30)),
        client_cache_seconds=float(os.environ.get("BROKER_CLIENT_CACHE_SECONDS") or 120.0),
        audit_unauthenticated_per_minute=max(1, _int("BROKER_AUDIT_UNAUTHENTICATED_PER_MINUTE", 60)),
        log_level=(os.environ.get("BROKER_LOG_LEVEL") or "INFO").upper(),
    )


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    global _current
    _current = None
