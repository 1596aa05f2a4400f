"""Login names: the reserved system name, and repeats compared trimmed and without case."""

from __future__ import annotations

from chalicelib.domain import login_names


def test_login_names_compare_trimmed_and_without_case() -> None:
    assert login_names.canonical("  Acme.Example ") == "acme.example"


def test_the_system_name_is_reserved_in_any_spelling() -> None:
    assert login_names.domain_problem(" System ") == "This name is reserved for the system tenant"
    assert login_names.domain_problem("systems") is None


def test_repeats_are_named_by_their_index() -> None:
    assert login_names.repeated(["a.example", "B.example", " A.EXAMPLE", "c", "b.example "]) == [2, 4]
    assert login_names.repeated(["a", "b"]) == []
