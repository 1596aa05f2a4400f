"""Typed entities: what the store returns and accepts in place of its DynamoDB records (docs/design.md,
"Typed entities").

An entity is read once, with its defaults, when the store loads it; services and routes read its fields,
never a stored document. It is frozen: a change is a new entity (`dataclasses.replace`) handed back to the
store, which writes it under the version it was read at, so a save based on a stale read is refused.

Keys of a stored document that the entity does not know (written by a newer or an older version of the
broker during a deploy) are kept in `unknown` and written back unchanged, never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self


@dataclass(frozen=True, kw_only=True)
class Entity:
    """A tenant-scoped record with an integer id and a unique name; subclasses add their settings."""

    tenant_id: int
    name: str
    id: int = 0  # 0 until the store creates it
    created: str = ""
    updated: str = ""
    version: int | None = None  # the optimistic lock's value when it was read; None before its creation
    unknown: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    RECORD_FIELDS: ClassVar[frozenset[str]] = frozenset({"tenant_id", "name", "id", "created", "updated",
                                                         "version", "unknown"})
    # Settings kept as attributes of the record beside its document (a plan's `kind`), not in it.
    ATTRIBUTES: ClassVar[frozenset[str]] = frozenset()
    # Attributes of the record that the jobs write beside the document, outside the version (a pool's
    # `stats`): read with the entity, never written by the store's create or update.
    SIDE_ATTRIBUTES: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def settings_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls)
                     if f.name not in cls.RECORD_FIELDS | cls.ATTRIBUTES | cls.SIDE_ATTRIBUTES)

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any], **record: Any) -> Self:
        """The entity from its record's attributes and its stored document (missing keys: the defaults)."""
        known = cls.settings_fields()
        return cls(**record, **{k: v for k, v in doc.items() if k in known},
                   unknown={k: v for k, v in doc.items() if k not in known})

    def stored_doc(self) -> dict[str, Any]:
        """The document the store writes: the settings, and the keys read but not known."""
        return {**self.unknown, **{name: getattr(self, name) for name in self.settings_fields()}}
