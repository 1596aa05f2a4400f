"""One deadline for a whole LDAP login, across every URL and operation, below the API's time limit.

Without it, a login tries each of up to ten URLs with its own timeouts (up to 60 s each), far past API
Gateway's 29 s: the client gets a 504 instead of the documented 503. The servers here hang for real:
`private_slapd` frozen with SIGSTOP (TCP connects, nothing answers), the session slapd's `hung_url` (a
port that listens but never accepts) and its `dead_url` (refused). The per-operation timeouts are long
(20 s) and the deadline short (1.5 s): the assertions are on the outcome; the time bound is generous
(a third of what a single timeout would take) and only tells "the deadline" from "the timeouts".
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

import pytest
from ldap3 import Connection

from chalicelib.auth.ldap import (
    RETRY_AFTER_SECONDS,
    DirectorySettings,
    DirectoryUnavailable,
    authenticate,
    check_connection,
)
from chalicelib.settings import get_settings, reset_settings
from tests.fixtures.ldap import SlapdServer
from tests.integration.auth_servers.conftest import (  # noqa: F401 - fixtures
    api,
    fast_and_fresh,
    ldap_server_body,
    system_sid,
    tenant,
    world,
)
from tests.integration.client.conftest import ClientApi, ClientWorld
from tests.integration.ldap.builders import openldap_settings

pytestmark = pytest.mark.ldap

DEADLINE_SECONDS = 1.5
SLOW = {"connect_timeout_seconds": 20.0, "receive_timeout_seconds": 20.0}  # each, per operation
BOUND_SECONDS = 7.0  # generous; a single 20 s timeout, let alone four, would be far beyond it


def hung_urls(session: SlapdServer, frozen: SlapdServer) -> tuple[str, ...]:
    """Four URLs that never answer (the refused one last: the deadline passes before it is tried)."""
    return (frozen.url, session.hung_url, frozen.ldaps_url, session.dead_url)


def seconds_to_fail(call: Callable[[], object]) -> tuple[float, DirectoryUnavailable]:
    """How long `call` took to give up, and with what."""
    started = time.monotonic()
    with pytest.raises(DirectoryUnavailable) as raised:
        call()
    return time.monotonic() - started, raised.value


@pytest.fixture
def frozen(private_slapd: SlapdServer) -> Iterator[SlapdServer]:
    private_slapd.pause()
    yield private_slapd
    private_slapd.resume()


def test_several_hung_urls_are_unavailable_within_the_deadline(
    slapd_server: SlapdServer, frozen: SlapdServer
) -> None:
    alice = slapd_server.openldap.account("alice")
    urls = hung_urls(slapd_server, frozen)
    settings = openldap_settings(slapd_server, urls=urls, deadline_seconds=DEADLINE_SECONDS, **SLOW)

    elapsed, error = seconds_to_fail(lambda: authenticate(settings, "alice", alice.password))

    assert elapsed < BOUND_SECONDS
    assert error.retry_after == RETRY_AFTER_SECONDS
    message = str(error)
    assert "deadline" in message
    assert slapd_server.dead_url in message  # named as never tried
    assert alice.password not in message and settings.bind_password not in message


def test_a_hung_starttls_is_bounded_by_the_deadline(slapd_server: SlapdServer, frozen: SlapdServer) -> None:
    """TCP connects (the kernel accepts for the frozen slapd); the StartTLS request is never answered."""
    settings = openldap_settings(
        slapd_server, urls=(frozen.url, frozen.url), start_tls=True, deadline_seconds=DEADLINE_SECONDS, **SLOW
    )

    elapsed, _ = seconds_to_fail(lambda: check_connection(settings))
    assert elapsed < BOUND_SECONDS


def test_a_server_that_hangs_after_the_bind_is_bounded_by_the_deadline(
    private_slapd: SlapdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service account binds, then the server freezes: the search waits what is left, no more."""
    alice = private_slapd.openldap.account("alice")
    real_bind = Connection.bind

    def bind_then_freeze(self: Connection, *args: object, **kwargs: object) -> bool:
        bound = real_bind(self, *args, **kwargs)
        private_slapd.pause()
        return bound

    monkeypatch.setattr(Connection, "bind", bind_then_freeze)
    settings = openldap_settings(private_slapd, deadline_seconds=DEADLINE_SECONDS, **SLOW)
    try:
        elapsed, _ = seconds_to_fail(lambda: authenticate(settings, "alice", alice.password))
    finally:
        private_slapd.resume()

    assert elapsed < BOUND_SECONDS


def test_a_good_server_after_a_hung_one_still_answers_within_the_deadline(
    slapd_server: SlapdServer, frozen: SlapdServer
) -> None:
    """The deadline caps the hung URL's wait; what is left serves the next URL."""
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(
        slapd_server,
        urls=(frozen.url, slapd_server.url),
        deadline_seconds=10.0,
        connect_timeout_seconds=20.0,
        receive_timeout_seconds=1.0,
    )

    assert authenticate(settings, "alice", alice.password).login == "alice"


@pytest.fixture
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage's setting (BROKER_LDAP_DEADLINE_SECONDS) as every login reads it, made short (the rest
    of the settings as they are: chalice's test client has put the stage's environment in place)."""
    shortened = dataclasses.replace(get_settings(), ldap_deadline_seconds=DEADLINE_SECONDS)
    monkeypatch.setattr("chalicelib.auth.ldap.get_settings", lambda: shortened)


def test_the_deadline_is_the_stage_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_LDAP_DEADLINE_SECONDS", "4.5")
    reset_settings()
    try:
        assert openldap_settings_deadline() == 4.5
    finally:
        monkeypatch.undo()
        reset_settings()
    assert openldap_settings_deadline() == 15.0  # the default: below API Gateway's 29 s


def openldap_settings_deadline() -> float:
    settings = DirectorySettings(urls=("ldap://127.0.0.1:1",), bind_dn="", bind_password="", search_base="")
    return settings.deadline_seconds


def test_a_login_against_hung_directories_answers_503_with_retry_after(
    world: ClientWorld, slapd_server: SlapdServer, frozen: SlapdServer, short_deadline: None  # noqa: F811
) -> None:
    """Through the API, as a user meets it: a 503 with Retry-After, not a 504 after the API's limit."""
    body = ldap_server_body(slapd_server, urls=list(hung_urls(slapd_server, frozen)), **SLOW)
    created = world.api.call("POST", "/rest/v1/auth-servers", body, sid=world.tenant.sid)
    assert created.status == 201, created.body
    client = ClientApi(world.api, "example.org")

    started = time.monotonic()
    reply = client.login("alice", slapd_server.openldap.account("alice").password, expect=503)
    elapsed = time.monotonic() - started

    assert elapsed < BOUND_SECONDS
    assert reply.body["error_status"] == "SERVICE_UNAVAILABLE"
    assert reply.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "127.0.0.1" not in str(reply.body)  # the addresses stay in the log

    checked = world.api.call(
        "POST", f"/rest/v1/auth-servers/{created.body['stored_data']['id']}/test", sid=world.tenant.sid
    )
    assert checked.status == 503 and checked.body["error_status"] == "SERVICE_UNAVAILABLE"
    assert checked.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
