"""Failover, outages and timeouts against the real slapd, and the admin's connection check."""

from __future__ import annotations

import time

import pytest

from chalicelib.auth.ldap import DirectoryUnavailable, authenticate, check_connection
from tests.fixtures.ldap import SlapdServer
from tests.integration.ldap.builders import openldap_settings

pytestmark = pytest.mark.ldap

# A hang detector, not a speed figure: without the timeouts these calls would never return; with them they
# take about the timeout. Far above what a loaded machine adds, so the outcome never depends on its speed.
OUTAGE_BOUND_SECONDS = 120.0
# The timeout a hung server must run out. Where a healthy slapd answers under the same settings, its answer is
# given this long: a healthy loopback slapd is never that slow, even on a loaded machine.
HUNG_SERVER_TIMEOUT_SECONDS = 5.0


def test_failover_skips_a_dead_server(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(slapd_server, urls=(slapd_server.dead_url, slapd_server.url))

    user = authenticate(settings, "alice", alice.password)

    assert user.login == "alice"


def test_every_server_dead_is_unavailable_and_names_each_url(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    other_dead = slapd_server.dead_url.replace("ldap://", "ldaps://")
    settings = openldap_settings(slapd_server, urls=(slapd_server.dead_url, other_dead))

    with pytest.raises(DirectoryUnavailable) as raised:
        authenticate(settings, "alice", alice.password)

    assert slapd_server.dead_url in str(raised.value)
    assert other_dead in str(raised.value)
    assert alice.password not in str(raised.value)
    assert settings.bind_password not in str(raised.value)


def test_stopped_server_is_unavailable_quickly_then_recovers(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(slapd_server)
    slapd_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable) as raised:
            authenticate(settings, "alice", alice.password)
        elapsed = time.monotonic() - started
    finally:
        slapd_server.start()

    assert elapsed < OUTAGE_BOUND_SECONDS
    assert slapd_server.url in str(raised.value)
    assert authenticate(settings, "alice", alice.password).login == "alice"


def test_hung_server_times_out_instead_of_hanging(slapd_server: SlapdServer) -> None:
    """SIGSTOP: the kernel accepts the TCP connection but no LDAP reply ever comes."""
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(slapd_server, connect_timeout_seconds=HUNG_SERVER_TIMEOUT_SECONDS,
                                 receive_timeout_seconds=HUNG_SERVER_TIMEOUT_SECONDS)
    slapd_server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable):
            authenticate(settings, "alice", alice.password)
        elapsed = time.monotonic() - started
    finally:
        slapd_server.resume()

    assert elapsed < OUTAGE_BOUND_SECONDS
    assert authenticate(openldap_settings(slapd_server), "alice", alice.password).login == "alice"


def test_hung_first_server_fails_over_to_the_next(slapd_server: SlapdServer) -> None:
    """The first URL accepts TCP but never answers; the receive timeout moves on to the real server."""
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(
        slapd_server, urls=(slapd_server.hung_url, slapd_server.url),
        receive_timeout_seconds=HUNG_SERVER_TIMEOUT_SECONDS,
    )

    started = time.monotonic()
    user = authenticate(settings, "alice", alice.password)

    assert user.login == "alice"
    assert time.monotonic() - started < OUTAGE_BOUND_SECONDS


def test_every_server_hung_is_unavailable_naming_them_in_order(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(
        slapd_server, urls=(slapd_server.hung_url, slapd_server.dead_url),
        receive_timeout_seconds=HUNG_SERVER_TIMEOUT_SECONDS,
    )

    with pytest.raises(DirectoryUnavailable) as raised:
        authenticate(settings, "alice", alice.password)

    message = str(raised.value)
    assert message.index(slapd_server.hung_url) < message.index(slapd_server.dead_url)


def test_check_connection_succeeds_for_good_settings(slapd_server: SlapdServer) -> None:
    check_connection(openldap_settings(slapd_server))
    check_connection(openldap_settings(slapd_server, group_membership="group_search"))


def test_check_connection_reports_a_missing_search_base(slapd_server: SlapdServer) -> None:
    settings = openldap_settings(slapd_server, search_base="ou=nowhere,dc=example,dc=org")

    with pytest.raises(DirectoryUnavailable, match="ou=nowhere"):
        check_connection(settings)


def test_check_connection_reports_a_missing_group_base(slapd_server: SlapdServer) -> None:
    settings = openldap_settings(
        slapd_server, group_membership="group_search", group_search_base="ou=lost,dc=example,dc=org"
    )

    with pytest.raises(DirectoryUnavailable, match="ou=lost"):
        check_connection(settings)


def test_check_connection_reports_a_refused_service_account(slapd_server: SlapdServer) -> None:
    settings = openldap_settings(slapd_server, bind_password="definitely-Wrong-99")

    with pytest.raises(DirectoryUnavailable) as raised:
        check_connection(settings)

    assert settings.bind_dn in str(raised.value)
    assert "definitely-Wrong-99" not in str(raised.value)


def test_check_connection_reports_an_unreachable_server(slapd_server: SlapdServer) -> None:
    with pytest.raises(DirectoryUnavailable, match=slapd_server.dead_url):
        check_connection(openldap_settings(slapd_server, urls=(slapd_server.dead_url,)))
