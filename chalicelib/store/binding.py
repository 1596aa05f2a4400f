"""Points the pynamodb models at the right tables and endpoint, once per process, on first use."""

from __future__ import annotations

import threading

import botocore.session
from botocore.config import Config
from pynamodb.connection import Connection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.settings import Settings, get_settings
from chalicelib.store.models import ALL_MODELS

_lock = threading.Lock()
_bound_to: Settings | None = None
_tx_connection: Connection | None = None


def bind_tables(settings: Settings) -> None:
    """Give every model its stage-prefixed table name, endpoint and region; drop cached connections."""
    global _bound_to, _tx_connection
    with _lock:
        for model in ALL_MODELS:
            meta = model.Meta
            meta.table_name = settings.table_name(meta.short_name)
            meta.host = settings.dynamodb_endpoint
            meta.region = settings.region
            model._connection = None
        _tx_connection = Connection(region=settings.region, host=settings.dynamodb_endpoint)
        # One botocore client for every table: pynamodb would otherwise build one per model, which
        # costs a Lambda cold start about 0.2 s each.
        shared = _dynamodb_client(settings)
        for model in ALL_MODELS:
            model._get_connection().connection._client = shared
        _tx_connection._client = shared
        _bound_to = settings


def _dynamodb_client(settings: Settings):
    return botocore.session.get_session().create_client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.dynamodb_endpoint,
        # as pynamodb configures its own clients (it validates parameters itself)
        config=Config(
            parameter_validation=False,
            connect_timeout=3,
            read_timeout=10,
            retries={"total_max_attempts": 4, "mode": "standard"},
            max_pool_connections=50,
        ),
    )


def dynamodb_client():
    ensure_bound()
    assert _tx_connection is not None
    return _tx_connection._client


def ensure_bound() -> Settings:
    settings = get_settings()
    if _bound_to is not settings:
        bind_tables(settings)
    return settings


def transaction(client_request_token: str | None = None) -> TransactWrite:
    """A TransactWrite on the bound endpoint (writes that guard an invariant go through it)."""
    ensure_bound()
    assert _tx_connection is not None
    return TransactWrite(connection=_tx_connection, client_request_token=client_request_token)


def table_models() -> tuple[type[Model], ...]:
    ensure_bound()
    return ALL_MODELS
