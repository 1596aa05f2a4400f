"""Typed entities (chalicelib/domain/entities/): read once with their defaults, written back whole."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace

import pytest

from chalicelib.domain.entities.gateways import Gateway


def test_a_stored_document_is_read_with_the_defaults_of_what_it_lacks() -> None:
    gateway = Gateway.from_stored({"type": "guacamole", "address": "gw.example", "url": "https://gw.example/"},
                                  tenant_id=3, id=7, name="gw", version=2)
    assert (gateway.tenant_id, gateway.id, gateway.name, gateway.version) == (3, 7, "gw", 2)
    assert gateway.type == "guacamole" and gateway.url == "https://gw.example/"
    assert gateway.key_version == 1 and gateway.allow_cleartext == 0 and gateway.notes == ""


def test_keys_the_entity_does_not_know_are_written_back_unchanged() -> None:
    """A document written by another version of the broker (a deploy in progress) loses nothing."""
    gateway = Gateway.from_stored({"address": "gw.example", "from_a_newer_broker": {"x": 1}},
                                  tenant_id=3, id=7, name="gw")
    changed = replace(gateway, notes="moved")
    assert changed.stored_doc()["from_a_newer_broker"] == {"x": 1}
    assert changed.stored_doc()["notes"] == "moved"
    assert not hasattr(changed, "from_a_newer_broker")


def test_the_stored_document_holds_the_settings_only() -> None:
    doc = Gateway(tenant_id=3, id=7, name="gw", address="gw.example", created="c", updated="u",
                  version=4).stored_doc()
    assert set(doc) == set(Gateway.settings_fields())
    assert not {"tenant_id", "id", "name", "created", "updated", "version", "unknown"} & set(doc)


def test_an_entity_is_changed_only_by_making_a_new_one() -> None:
    gateway = Gateway(tenant_id=3, name="gw")
    with pytest.raises(FrozenInstanceError):
        gateway.name = "other"  # type: ignore[misc]
