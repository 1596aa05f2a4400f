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


def test_a_user_is_read_with_the_defaults_its_readers_used_to_apply() -> None:
    from chalicelib.domain.entities.users import User

    bare = User.from_stored({}, tenant_id=3, login="alice", id=7)
    assert (bare.name, bare.role, bare.is_local, bare.enabled, bare.notes) == ("alice", "User", 1, 1, "")
    assert (bare.policy_id, bare.auth_server_id, bare.auth_server_name) == (None, None, None)
    assert User.from_stored({"name": "", "role": None}, tenant_id=3, login="alice").name == "alice"
    assert User.from_stored({"role": None}, tenant_id=3, login="alice").role == "User"
    directory = User.from_stored({"name": "Bob B.", "is_local": 0, "role": "Administrator", "enabled": 0,
                                  "auth_server_id": 4, "from_a_newer_broker": [1]}, tenant_id=3, login="bob")
    assert (directory.name, directory.is_local, directory.role, directory.enabled) == ("Bob B.", 0,
                                                                                        "Administrator", 0)
    stored = directory.stored_doc()
    assert stored["from_a_newer_broker"] == [1] and stored["auth_server_id"] == 4


def test_a_user_s_stored_document_holds_its_settings_and_never_what_the_store_guards() -> None:
    from chalicelib.domain.entities.users import User

    user = User(tenant_id=3, login="alice", id=7, password_hash="$argon2id$secret", held=frozenset({9}),
                held_version=2, tokens_after=5, version=4)
    assert set(user.stored_doc()) == set(User.SETTINGS)
    assert "argon2id" not in repr(user)  # a logged user never shows its hash


def test_a_tenant_saved_before_its_settings_existed_reads_with_their_defaults() -> None:
    from chalicelib.domain.entities.tenants import Tenant

    old = Tenant.from_stored({"notes": "n", "login_domains": None, "listed_at_login": None,
                              "time_zone": None}, tenant_id=0, id=5, name="acme")
    assert (old.login_domains, old.listed_at_login, old.time_zone, old.notes) == ((), 0, "", "n")
    granted = Tenant.from_stored({"login_domains": ["corp.example"]}, tenant_id=0, id=5, name="acme")
    assert granted.login_domains == ("corp.example",)
    assert granted.stored_doc()["login_domains"] == ["corp.example"]  # a JSON list, as before
