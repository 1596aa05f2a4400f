"""The secrets watch's detector (tests/fixtures/secrets_watch.py), on a watch of its own: what these
tests plant never reaches the session's watch."""

from __future__ import annotations

import json

from tests.fixtures.secrets_watch import MIN_SECRET_LENGTH, SecretsWatch

PASSWORD = "Corr3ct-horse-battery"


def watch() -> SecretsWatch:
    fresh = SecretsWatch(nodeid="tests/x.py::test_leaky")
    assert fresh.learn(PASSWORD, "password")
    return fresh


def test_a_log_line_with_a_password_is_a_leak_of_the_test_that_wrote_it() -> None:
    fresh = watch()
    fresh.observe("log", "broker.api", json.dumps({"message": "request", "status": 200}))
    fresh.observe("log", "broker.client_login", f'{{"message": "login refused for alice/{PASSWORD}"}}')
    [leak] = fresh.check()
    assert (leak.nodeid, leak.source, leak.where, leak.kind) == (
        "tests/x.py::test_leaky", "log", "broker.client_login", "password")
    assert PASSWORD not in leak.excerpt and "login refused for alice/<Cor***>" in leak.excerpt
    assert fresh.leaks == [leak]
    assert fresh.check() == []  # observations are checked once


def test_clean_observations_and_secrets_split_across_two_of_them_are_no_leak() -> None:
    fresh = watch()
    fresh.observe("response", "GET /rest/v1/users", '{"users": [{"user_login": "alice"}]}')
    fresh.observe("log", "broker.api", PASSWORD[:10])
    fresh.observe("log", "broker.api", PASSWORD[10:])
    assert fresh.check() == [] and fresh.leaks == []
    assert fresh.observed == {"response": 1, "log": 2}


def test_short_and_plain_values_are_not_learned() -> None:
    fresh = SecretsWatch()
    assert not fresh.learn("x" * (MIN_SECRET_LENGTH - 1), "password")
    assert not fresh.learn("abc1234", "password")  # 7 characters
    assert not fresh.learn("00000000", "password")  # too few distinct characters
    assert not fresh.learn(None, "password")
    assert fresh.learn("abcd1234", "password")
    assert fresh.learn(b"bytes-password", "password") and fresh.knows("bytes-password")


def test_a_secret_is_found_as_json_writes_it() -> None:
    fresh = SecretsWatch()
    quoted = 'pa"ss\\wörd-42'
    assert fresh.learn(quoted, "center secret")
    fresh.observe("log", "broker.centers", json.dumps({"message": f"saving {quoted}"}))
    fresh.observe("response", "GET /x", json.dumps({"notes": quoted}, ensure_ascii=False))
    assert [(leak.source, leak.kind) for leak in fresh.check()] == [
        ("log", "center secret"), ("response", "center secret")]


def test_a_token_may_appear_in_the_response_that_issues_it_only() -> None:
    fresh = SecretsWatch()
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
    fresh.learn(token, "token")
    fresh.observe("response", "POST /client/v1/login", json.dumps({"token": token}), exempt=[token])
    assert fresh.check() == []
    fresh.observe("response", "GET /client/v1/desktops", json.dumps({"echo": token}))
    [leak] = fresh.check()
    assert (leak.where, leak.kind) == ("GET /client/v1/desktops", "token")


def test_request_fields_that_carry_secrets() -> None:
    fresh = SecretsWatch()
    body = {"name": "lab", "center_definition": {"username": "demo", "password": "center-pw-123"},
            "bind_password": "bind-pw-1234", "registration_token": "1.2.abcdefghijkl",
            "user_login": "alice1234", "secrets": ["listed-secret-1"]}
    learned = fresh.learn_request("/rest/v1/centers/openstack", body)
    assert sorted(learned) == ["bind-pw-1234", "center-pw-123", "listed-secret-1"]
    assert dict(fresh.learned) == {"center secret": 3}
    assert not fresh.knows("alice1234") and not fresh.knows("1.2.abcdefghijkl")
    assert fresh.learn_request("/rest/v1/users", {"password": "user-pw-1234"}) == ["user-pw-1234"]
    assert fresh.learned["password"] == 1


def test_what_a_client_sends_openly_is_no_leak_until_the_test_ends() -> None:
    fresh = SecretsWatch(public="raise ValueError('must be a Keystone v3 endpoint')")
    fresh.start_test("tests/x.py::test_fuzz")
    fresh.learn_request("/rest/v1/session/login", {"user_login": "admin", "password": "fuzzed-value-1"})
    fresh.learn_request("/rest/v1/tenants", {"name": "t", "notes": "fuzzed-value-1"})  # sent openly
    fresh.observe("response", "GET /rest/v1/tenants", '{"notes": "fuzzed-value-1"}')
    assert fresh.check() == []
    fresh.start_test("tests/x.py::test_next")
    fresh.observe("log", "broker.api", "fuzzed-value-1")
    assert [leak.nodeid for leak in fresh.check()] == ["tests/x.py::test_next"]
    assert not fresh.learn("Keystone v3", "password")  # written in the broker's source
    assert fresh.learn("Keystone v3", "token")  # a token is random: the source filter is not for it


def test_a_canary_is_handed_back_not_recorded() -> None:
    fresh = watch()
    with fresh.canary("canary-value-123") as caught:
        fresh.observe("log", "broker", "leaking canary-value-123")
    assert [leak.kind for leak in caught] == ["canary"]
    assert fresh.leaks == [] and not fresh.knows("canary-value-123")
