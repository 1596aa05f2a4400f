"""Queries of the global secondary indexes that a rule may lean on go through `query`.

DynamoDB's global secondary indexes answer late (eventually consistent); moto's answer at once. A rule
that holds only while an index is up to date would pass every test here and fail in AWS, so the tests
replay an older view of an index (`replaying`): an answer recorded earlier comes back instead of the
current one, exactly what a lagging index does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_recording: dict[tuple[str, str], list[Any]] | None = None
_replaying: dict[tuple[str, str], list[Any]] | None = None


def query(index: Any, hash_key: Any, **options: Any) -> list[Any]:
    """`index.query(hash_key, **options)` as a list (or, in a test, an older answer)."""
    key = (index.Meta.index_name, str(hash_key))
    if _replaying is not None and key in _replaying:
        return list(_replaying[key])
    answer = list(index.query(hash_key, **options))
    if _recording is not None:
        _recording[key] = list(answer)
    return answer


@contextmanager
def recording() -> Iterator[dict[tuple[str, str], list[Any]]]:
    """Tests: remember every index answer given inside the block."""
    global _recording
    _recording = {}
    try:
        yield _recording
    finally:
        _recording = None


@contextmanager
def replaying(answers: dict[tuple[str, str], list[Any]]) -> Iterator[None]:
    """Tests: answer the recorded queries with what they answered then (a lagging index)."""
    global _replaying
    _replaying = answers
    try:
        yield
    finally:
        _replaying = None
