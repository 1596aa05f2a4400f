"""Counting the DynamoDB requests a piece of code makes, through botocore's event system.

Every pynamodb model talks to DynamoDB through a botocore client of its own connection (plus the
connection used for transactions). `count_requests()` hooks `before-call.dynamodb` on each of those
clients and counts, on the calling thread only, every API call (GetItem, Query, BatchGetItem,
TransactWriteItems...) made inside the `with` block. botocore emits `before-call` once per API call,
so its own retries of one call are not counted twice; one BatchGetItem is one request, whatever the
number of tables it reads.

    with count_requests() as counted:
        login(...)
    counted.total, counted.by_operation  # -> 4, {"BatchGetItem": 1, "Query": 1, ...}
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chalicelib.store import binding
from chalicelib.store.models import ALL_MODELS

_EVENT = "before-call.dynamodb"
_PARAMS_EVENT = "before-parameter-build.dynamodb"
_HANDLER_ID = "broker-dynamodb-request-counter"
_CONTEXT_KEY = "broker_table"
_local = threading.local()
_lock = threading.Lock()


@dataclass
class RequestTally:
    by_operation: dict[str, int] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())

    def add(self, operation: str, table: str | None) -> None:
        self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
        self.calls.append(f"{operation} {table or ''}".strip())


def _table_of(params: dict[str, Any]) -> str | None:
    if "TableName" in params:
        return str(params["TableName"])
    if "RequestItems" in params:
        return ",".join(sorted(params["RequestItems"]))
    if "TransactItems" in params:
        names = {op.get("TableName") for item in params["TransactItems"] for op in item.values()}
        return ",".join(sorted(n for n in names if n))
    return None


def _on_params(params: Any = None, context: Any = None, **_: Any) -> None:
    """Note the table(s) of the call while its API parameters are at hand (for `calls`)."""
    if getattr(_local, "tallies", None) and isinstance(context, dict) and isinstance(params, dict):
        context[_CONTEXT_KEY] = _table_of(params)


def _on_call(model: Any = None, context: Any = None, **_: Any) -> None:
    tallies: list[RequestTally] = getattr(_local, "tallies", [])
    if not tallies:
        return
    operation = getattr(model, "name", "?")
    table = context.get(_CONTEXT_KEY) if isinstance(context, dict) else None
    for tally in tallies:
        tally.add(operation, table)


def _clients() -> list[Any]:
    binding.ensure_bound()
    clients = [model._get_connection().connection.client for model in ALL_MODELS]
    if binding._tx_connection is not None:
        clients.append(binding._tx_connection.client)
    return clients


def instrument() -> None:
    """Hook the counter into every DynamoDB client the models use (idempotent)."""
    with _lock:
        for client in _clients():
            client.meta.events.register(_PARAMS_EVENT, _on_params, unique_id=_HANDLER_ID + "-params")
            client.meta.events.register(_EVENT, _on_call, unique_id=_HANDLER_ID)


@contextmanager
def count_requests() -> Iterator[RequestTally]:
    """Count the DynamoDB API calls this thread makes inside the block."""
    instrument()
    tally = RequestTally()
    stack: list[RequestTally] = getattr(_local, "tallies", None) or []
    stack.append(tally)
    _local.tallies = stack
    try:
        yield tally
    finally:
        stack.remove(tally)
