"""Conditional writes: one way to run a DynamoDB transaction and to tell which of its conditions failed.

DynamoDB cancels a whole transaction when one condition fails and lists a reason per item, in the order
the items were sent. pynamodb sends condition checks, then deletes, then puts, then updates, whatever
order they were added in; `Transaction` labels each item as it is added and maps the reasons back to the
labels, so a service can say "the login domain is taken" rather than "something failed".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pynamodb.constants import KEY
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.models import Model

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.store.binding import transaction as pynamodb_transaction

CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELLED = "TransactionCanceledException"
MAX_ITEMS = 100  # DynamoDB's limit per transaction (ARCHITECTURE.md invariant 9)


def condition_failed(error: Exception) -> bool:
    """Whether a pynamodb error means "a condition did not hold" (not an outage or a bad request)."""
    return isinstance(error, PynamoDBException) and getattr(error, "cause_response_code", None) in (
        CONDITION_FAILED,
        TRANSACTION_CANCELLED,
    )


class StoreUnavailable(ServiceUnavailable):
    """DynamoDB did not answer (or refused for another reason than a condition): callers that must never
    fail on it (a login's pool check) catch this, never a pynamodb exception."""


@contextmanager
def unavailable_as_broker_error() -> Iterator[None]:
    """Turn a pynamodb error raised inside the block into StoreUnavailable, unless it is a failed condition
    (the caller's answer, detected with `condition_failed`)."""
    try:
        yield
    except PynamoDBException as error:
        if condition_failed(error):
            raise
        raise StoreUnavailable(f"the database did not answer: {type(error).__name__}") from error


class TransactionFailed(Exception):
    """The transaction was cancelled because the conditions of the items named in `failed` did not hold
    (empty when DynamoDB gave no reason per item, e.g. a conflicting transaction in flight)."""

    def __init__(self, failed: frozenset[str], cause: Exception) -> None:
        super().__init__(f"transaction cancelled: {', '.join(sorted(failed)) or 'no reason given'}")
        self.failed = failed
        self.cause = cause


class Transaction:
    """A TransactWrite whose items carry labels (see the module's docstring)."""

    _ORDER = ("check", "delete", "put", "update")

    def __init__(self) -> None:
        # A client request token makes a retried request (botocore retries a timeout) apply once.
        self._write = pynamodb_transaction(client_request_token=uuid.uuid4().hex)
        self._labels: dict[str, list[str]] = {kind: [] for kind in self._ORDER}

    def __len__(self) -> int:
        return sum(len(labels) for labels in self._labels.values())

    def _add(self, kind: str, label: str) -> None:
        if len(self) >= MAX_ITEMS:
            raise ValueError(f"a transaction holds at most {MAX_ITEMS} items")
        self._labels[kind].append(label)

    def check(self, label: str, model: type[Model], hash_key: Any, range_key: Any = None, *,
              condition: Any) -> None:
        self._add("check", label)
        self._write.condition_check(model, hash_key, range_key, condition=condition)

    def delete(self, label: str, record: Model, condition: Any = None, *, versioned: bool = True) -> None:
        self._add("delete", label)
        self._write.delete(record, condition=condition, add_version_condition=versioned)

    def put(self, label: str, record: Model, condition: Any = None) -> None:
        self._add("put", label)
        self._write.save(record, condition=condition)

    def update(self, label: str, record: Model, actions: list[Any], condition: Any = None, *,
               versioned: bool = True) -> None:
        """Update a record read earlier. pynamodb adds one to its `version` (and, when `versioned`,
        checks it): a record whose version was never read would have it reset, so that is refused."""
        if getattr(record, "_version_attribute_name", None) and getattr(
                record, record._version_attribute_name) is None:
            raise ValueError(f"{type(record).__name__} without its version: use update_key")
        self._add("update", label)
        self._write.update(record, actions, condition=condition, add_version_condition=versioned)

    def update_key(self, label: str, model: type[Model], hash_key: Any, range_key: Any, actions: list[Any],
                   condition: Any = None) -> None:
        """Update an item by its key alone: exactly `actions`, nothing added for a version attribute
        (add `model.version.add(1)` yourself where writers holding an older copy must be refused)."""
        self._add("update", label)
        hash_value, range_value = model._serialize_keys(hash_key, range_key)
        self._write._update_items.append(model._get_connection().get_operation_kwargs(
            hash_value, range_key=range_value, key=KEY, actions=actions, condition=condition))

    def _labels_in_sent_order(self) -> list[str]:
        return [label for kind in self._ORDER for label in self._labels[kind]]

    def commit(self) -> None:
        """Write every item or none; TransactionFailed names the items whose condition failed."""
        if not len(self):
            return
        try:
            with self._write:
                pass
        except TransactWriteError as error:
            if getattr(error, "cause_response_code", None) != TRANSACTION_CANCELLED:
                raise
            reasons = error.cancellation_reasons or []
            failed = frozenset(
                label
                for label, reason in zip(self._labels_in_sent_order(), reasons, strict=False)
                if reason is not None and reason.code == "ConditionalCheckFailed"
            )
            raise TransactionFailed(failed, error) from error


@contextmanager
def transaction() -> Iterator[Transaction]:
    """`with transaction() as tx: tx.put(...)` commits when the block ends without an exception."""
    tx = Transaction()
    yield tx
    tx.commit()
