"""The user store's typed users over moto (chalicelib/store/repos.py, UserStore): what the services rely on,
above all that an update writes what the services changed and nothing the store guards besides."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import Conflict, NotUnique
from chalicelib.store import stores
from chalicelib.store.claims import DesktopClaims
from tests.fixtures.aws import AwsStack
from tests.integration.client.conftest import add_desktop

claims = DesktopClaims()


def _new(login: str = "Alice") -> User:
    return stores.users.create(User(tenant_id=1, login=login, name="Alice A.", password_hash="hash-1"))


def test_a_created_user_comes_back_as_stored_under_its_folded_login(aws: AwsStack) -> None:
    created = _new(" Alice ")
    assert created.login == "alice" and created.id > 0 and created.version == 1 and created.created
    assert (created.is_local, created.enabled, created.role, created.held) == (1, 1, "User", frozenset())
    assert stores.users.find_by_login(1, "ALICE") == created
    assert stores.users.get(1, created.id) == created == stores.users.list(1)[0]
    assert stores.users.find(2, created.id) is None and stores.users.find_by_login(2, "alice") is None
    with pytest.raises(NotUnique):
        _new("alice")


def test_an_update_writes_the_settings_and_keeps_the_password_unless_changed(aws: AwsStack) -> None:
    user = _new()
    renamed = stores.users.update(user, replace(user, name="Alice B.", enabled=0))
    assert (renamed.name, renamed.enabled, renamed.version) == ("Alice B.", 0, 2)
    assert renamed.password_hash == "hash-1" and renamed.tokens_after is None
    moved = stores.users.update(renamed, replace(renamed, password_hash="hash-2", tokens_after=1234))
    assert stores.users.find_by_login(1, "alice") == moved
    assert (moved.password_hash, moved.tokens_after) == ("hash-2", 1234)


def test_an_update_based_on_a_stale_read_is_refused_and_changes_nothing(aws: AwsStack) -> None:
    read_by_one = _new()
    read_by_two = stores.users.find_by_login(1, "alice")
    assert read_by_two is not None
    stores.users.update(read_by_one, replace(read_by_one, notes="first"))
    with pytest.raises(Conflict):
        stores.users.update(read_by_two, replace(read_by_two, notes="second", password_hash="hash-2"))
    stored = stores.users.find_by_login(1, "alice")
    assert stored is not None and (stored.notes, stored.password_hash) == ("first", "hash-1")
    with pytest.raises(ValueError):
        stores.users.update(stored, replace(stored, login="mallory"))


def test_an_update_never_writes_the_held_desktops(aws: AwsStack) -> None:
    """A login's claim between an admin's read and save (claims leave `version` alone) survives the save."""
    read_by_admin = _new()
    desktop = add_desktop(1, 1, 1, "d1")
    assert claims.claim(read_by_admin, int(desktop.id)) is not None
    saved = stores.users.update(read_by_admin, replace(read_by_admin, name="Alice C."))
    assert saved.held == {int(desktop.id)} and saved.held_version == 1
    assert not stores.users.delete_if_holding_nothing(saved)  # it holds a desktop
    assert stores.users.find_by_login(1, "alice") is not None


def test_a_rehash_replaces_only_the_hash_it_was_made_from(aws: AwsStack) -> None:
    user = _new()
    stores.users.replace_hash(user, "hash-0", "rehashed")  # the password changed meanwhile: left alone
    assert stores.users.find_by_login(1, "alice").password_hash == "hash-1"  # type: ignore[union-attr]
    stores.users.replace_hash(user, "hash-1", "rehashed")
    assert stores.users.find_by_login(1, "alice").password_hash == "rehashed"  # type: ignore[union-attr]


def test_a_user_holding_nothing_is_deleted_unless_it_changed(aws: AwsStack) -> None:
    user = _new()
    changed = stores.users.update(user, replace(user, notes="x"))
    assert not stores.users.delete_if_holding_nothing(user)  # read before the change
    assert stores.users.delete_if_holding_nothing(changed)
    assert stores.users.find_by_login(1, "alice") is None
