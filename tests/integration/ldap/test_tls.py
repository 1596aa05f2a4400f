"""StartTLS and ldaps against the fixture's certificate (a throw-away CA made with openssl)."""

from __future__ import annotations

import pytest

from chalicelib.auth.ldap import DirectoryUnavailable, authenticate, check_connection
from tests.fixtures.ldap import SlapdServer
from tests.integration.ldap.builders import openldap_settings

pytestmark = pytest.mark.ldap


def test_start_tls_with_our_ca_logs_in(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(slapd_server, start_tls=True)

    assert authenticate(settings, "alice", alice.password).login == "alice"


def test_start_tls_is_really_attempted_and_verified(slapd_server: SlapdServer) -> None:
    """Without our CA the certificate is untrusted: failing proves StartTLS ran and verification is on."""
    alice = slapd_server.openldap.account("alice")
    plain = openldap_settings(slapd_server, start_tls=False, ca_certificate_pem=None)
    tls = openldap_settings(slapd_server, start_tls=True, ca_certificate_pem=None)

    assert authenticate(plain, "alice", alice.password).login == "alice"
    with pytest.raises(DirectoryUnavailable) as raised:
        authenticate(tls, "alice", alice.password)
    assert slapd_server.url in str(raised.value)


def test_ldaps_with_our_ca_logs_in(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(slapd_server, urls=(slapd_server.ldaps_url,))

    assert authenticate(settings, "alice", alice.password).login == "alice"
    check_connection(settings)


def test_ldaps_verifies_by_default(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(slapd_server, urls=(slapd_server.ldaps_url,), ca_certificate_pem=None)

    with pytest.raises(DirectoryUnavailable):
        authenticate(settings, "alice", alice.password)


def test_verification_can_be_turned_off(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(
        slapd_server, urls=(slapd_server.ldaps_url,), ca_certificate_pem=None, verify_tls=False
    )

    assert authenticate(settings, "alice", alice.password).login == "alice"


def test_start_tls_on_an_ldaps_url_is_not_tried_twice(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(slapd_server, urls=(slapd_server.ldaps_url,), start_tls=True)

    assert authenticate(settings, "alice", alice.password).login == "alice"


def test_untrusted_first_server_fails_over_to_a_trusted_one(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(
        slapd_server, urls=(f"ldaps://localhost:{slapd_server.port}", slapd_server.ldaps_url)
    )

    # The first URL speaks plain LDAP on a TLS URL (handshake fails); the second is fine.
    assert authenticate(settings, "alice", alice.password).login == "alice"


def test_certificate_must_name_the_host_connected_to(slapd_server: SlapdServer) -> None:
    """The certificate names 127.0.0.1 only: reaching the same server as `localhost` must fail."""
    alice = slapd_server.openldap.account("alice")
    by_address = openldap_settings(slapd_server, urls=(slapd_server.ldaps_url,))
    by_other_name = openldap_settings(slapd_server, urls=(f"ldaps://localhost:{slapd_server.ldaps_port}",))

    assert authenticate(by_address, "alice", alice.password).login == "alice"
    with pytest.raises(DirectoryUnavailable):
        authenticate(by_other_name, "alice", alice.password)
