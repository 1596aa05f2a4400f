"""Table definitions as plain data, derived from the pynamodb models (one source for tests, `make run`
and the CDK stack), and creation of the tables where no infrastructure code runs (local, tests)."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import TTLAttribute
from pynamodb.indexes import GlobalSecondaryIndex, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib.store.binding import ensure_bound
from chalicelib.store.models import ALL_MODELS


def _key_schema(container: Any) -> dict[str, tuple[str, str]]:
    keys: dict[str, tuple[str, str]] = {}
    for attribute in container.get_attributes().values():
        if attribute.is_hash_key:
            keys["hash"] = (attribute.attr_name, attribute.attr_type)
        elif attribute.is_range_key:
            keys["range"] = (attribute.attr_name, attribute.attr_type)
    return keys


def _index_keys(index: Any) -> dict[str, tuple[str, str]]:
    keys: dict[str, tuple[str, str]] = {}
    for attribute in index.Meta.attributes.values():
        if attribute.is_hash_key:
            keys["hash"] = (attribute.attr_name, attribute.attr_type)
        elif attribute.is_range_key:
            keys["range"] = (attribute.attr_name, attribute.attr_type)
    return keys


def table_specs() -> list[dict[str, Any]]:
    """Each table: short name, keys, indexes (name, kind, keys, projection) and TTL attribute."""
    specs = []
    for model in ALL_MODELS:
        indexes = []
        for index in model._indexes.values():
            kind = "global" if isinstance(index, GlobalSecondaryIndex) else "local"
            assert isinstance(index, GlobalSecondaryIndex | LocalSecondaryIndex)
            indexes.append(
                {
                    "name": index.Meta.index_name,
                    "kind": kind,
                    "keys": _index_keys(index),
                    "projection": index.Meta.projection.projection_type,
                }
            )
        ttl = next(
            (a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)), None
        )
        specs.append(
            {
                "short_name": model.Meta.short_name,
                "keys": _key_schema(model),
                "indexes": indexes,
                "ttl_attribute": ttl,
            }
        )
    return specs


def create_tables(models: tuple[type[Model], ...] = ALL_MODELS) -> list[str]:
    """Create the missing tables (on-demand billing) and return the names created."""
    ensure_bound()
    created = []
    for model in models:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
            created.append(model.Meta.table_name)
    return created
