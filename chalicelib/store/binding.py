"""Points the pynamodb models at the right tables and endpoint, once per process, on first use."""

from __future__ import annotations

import threading

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
        _bound_to = settings


def ensure_bound() -> Settings:
    settings = get_settings()
    if _bound_to is not settings:
        bind_tables(settings)
    return settings


def transaction() -> TransactWrite:
    """A TransactWrite on the bound endpoint (writes that guard an invariant go through it)."""
    ensure_bound()
    assert _tx_connection is not None
    return TransactWrite(connection=_tx_connection)


def table_models() -> tuple[type[Model], ...]:
    ensure_bound()
    return ALL_MODELS
