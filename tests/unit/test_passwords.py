"""The password hashes the broker makes: argon2id with OWASP's recommended parameters."""

from __future__ import annotations

from argon2 import extract_parameters

from chalicelib.auth import passwords


def test_hashes_use_owasps_argon2id_setting() -> None:
    parameters = extract_parameters(passwords.hash_password("correct horse"))
    assert (parameters.type.name, parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (
        "ID", 19 * 1024, 2, 1)


def test_verify_and_rehash_decisions() -> None:
    made = passwords.hash_password("correct horse")
    assert passwords.verify_password(made, "correct horse")
    assert not passwords.verify_password(made, "wrong horse")
    assert not passwords.verify_password(None, "correct horse")  # the dummy hash never matches
    assert not passwords.needs_rehash(made)
    old = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43
    assert passwords.needs_rehash(old)
    assert not passwords.needs_rehash("not a hash")
