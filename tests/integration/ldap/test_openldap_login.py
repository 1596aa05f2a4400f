"""Logins against the OpenLDAP-style tree (dc=example,dc=org) of a real slapd."""

from __future__ import annotations

import logging
import subprocess

import pytest

from chalicelib.auth.ldap import (
    INVALID_CREDENTIALS_MESSAGE,
    DirectoryInvalidCredentials,
    DirectoryUnavailable,
    authenticate,
)
from chalicelib.domain.errors import ServiceUnavailable, Unauthorized
from tests.fixtures.ldap import SlapdServer
from tests.integration.ldap.builders import openldap_settings

pytestmark = pytest.mark.ldap


def test_uid_login_returns_the_user_with_groups_from_member_of(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")

    user = authenticate(openldap_settings(slapd_server), "alice", alice.password)

    assert user.dn == alice.dn
    assert user.login == "alice"
    assert user.display_name == "Alice Liddell"
    assert user.email == "alice@example.org"
    assert {dn.lower() for dn in user.groups} == {
        "cn=vdi-users,ou=groups,dc=example,dc=org",
        "cn=vdi-admins,ou=groups,dc=example,dc=org",
        "cn=design team,ou=groups,dc=example,dc=org",
    }
    assert set(user.group_names) == {"vdi-users", "vdi-admins", "design team"}


def test_login_is_reported_as_the_directory_spells_it(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")

    user = authenticate(openldap_settings(slapd_server), "  ALICE ", alice.password)

    assert user.login == "alice"
    assert user.dn == alice.dn


def test_user_without_groups_gets_none(slapd_server: SlapdServer) -> None:
    carol = slapd_server.openldap.account("carol")

    user = authenticate(openldap_settings(slapd_server), "carol", carol.password)

    assert user.groups == ()
    assert user.group_names == ()
    assert user.display_name == "Carol Groupless"  # falls back to cn without displayName
    assert user.email is None


@pytest.mark.parametrize(
    ("member_attribute", "login", "expected_names"),
    [
        ("member", "bob", {"vdi-users"}),
        ("member", "alice", {"vdi-users", "vdi-admins", "design team"}),
        ("uniqueMember", "bob", {"vdi-contractors"}),
        ("memberUid", "bob", {"vdi-posix"}),
        ("memberUid", "carol", {"vdi-posix"}),
        ("memberUid", "alice", set()),
    ],
)
def test_groups_by_group_search(
    slapd_server: SlapdServer, member_attribute: str, login: str, expected_names: set[str]
) -> None:
    account = slapd_server.openldap.account(login)
    settings = openldap_settings(
        slapd_server, group_membership="group_search", group_member_attribute=member_attribute
    )

    user = authenticate(settings, login, account.password)

    assert set(user.group_names) == expected_names
    assert len(user.groups) == len(expected_names)
    assert all(dn.lower().endswith(",ou=groups,dc=example,dc=org") for dn in user.groups)


def test_wrong_password_and_unknown_user_are_indistinguishable(slapd_server: SlapdServer) -> None:
    settings = openldap_settings(slapd_server)

    with pytest.raises(DirectoryInvalidCredentials) as wrong_password:
        authenticate(settings, "alice", "not-alices-password")
    with pytest.raises(DirectoryInvalidCredentials) as unknown_user:
        authenticate(settings, "nobody-here", "not-alices-password")

    assert type(wrong_password.value) is type(unknown_user.value)
    assert str(wrong_password.value) == str(unknown_user.value) == INVALID_CREDENTIALS_MESSAGE
    assert isinstance(wrong_password.value, Unauthorized)
    assert wrong_password.value.status == "UNAUTHORIZED"


def test_password_of_another_user_does_not_work(slapd_server: SlapdServer) -> None:
    bob = slapd_server.openldap.account("bob")

    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(openldap_settings(slapd_server), "alice", bob.password)


def test_server_really_accepts_an_unauthenticated_bind(slapd_server: SlapdServer) -> None:
    """Guards the next test: this slapd says yes to DN + empty password, so the adapter must say no."""
    alice = slapd_server.openldap.account("alice")

    whoami = subprocess.run(
        ["ldapwhoami", "-x", "-H", slapd_server.url, "-D", alice.dn, "-w", ""],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.strip() == "anonymous"


@pytest.mark.parametrize("password", ["", " ", "\t\n"])
def test_empty_password_is_refused(slapd_server: SlapdServer, password: str) -> None:
    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(openldap_settings(slapd_server), "alice", password)


def test_empty_password_is_refused_before_any_network_traffic(slapd_server: SlapdServer) -> None:
    # Only a dead URL: had the adapter tried to connect, it would have raised DirectoryUnavailable.
    settings = openldap_settings(slapd_server, urls=(slapd_server.dead_url,))

    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(settings, "alice", "")


def test_login_matching_several_entries_is_refused_even_with_the_right_password(
    slapd_server: SlapdServer,
) -> None:
    twin = slapd_server.openldap.account("twin")

    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(openldap_settings(slapd_server), "twin", twin.password)


def test_the_twin_logs_in_when_the_search_base_narrows_to_one(slapd_server: SlapdServer) -> None:
    twin = slapd_server.openldap.account("twin")
    settings = openldap_settings(slapd_server, search_base=slapd_server.openldap.people_base)

    user = authenticate(settings, "twin", twin.password)

    assert user.dn == twin.dn


def test_account_locked_by_the_server_is_refused(slapd_server: SlapdServer) -> None:
    dave = slapd_server.openldap.account("dave")

    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(openldap_settings(slapd_server), "dave", dave.password)


@pytest.mark.parametrize(
    "login",
    ["*", "ali*", "*lice", ")(uid=*", "alice)(|(uid=*", "*)(|(objectClass=*", "alice)(uid=alice", "\\2a"],
)
def test_filter_injection_logs_nobody_in(slapd_server: SlapdServer, login: str) -> None:
    # "ali*" is the sharp one: unescaped it would match exactly alice and her password would work.
    alice = slapd_server.openldap.account("alice")

    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(openldap_settings(slapd_server), login, alice.password)


def test_wrong_service_password_is_unavailable_and_never_echoed(slapd_server: SlapdServer) -> None:
    alice = slapd_server.openldap.account("alice")
    wrong_service_password = "wrong-service-Secret-42"
    settings = openldap_settings(slapd_server, bind_password=wrong_service_password)

    with pytest.raises(DirectoryUnavailable) as raised:
        authenticate(settings, "alice", alice.password)

    assert isinstance(raised.value, ServiceUnavailable)
    assert slapd_server.url in str(raised.value)
    assert wrong_service_password not in str(raised.value)
    assert alice.password not in str(raised.value)


def test_no_password_reaches_the_logs(slapd_server: SlapdServer, caplog: pytest.LogCaptureFixture) -> None:
    alice = slapd_server.openldap.account("alice")
    settings = openldap_settings(slapd_server)
    caplog.set_level(logging.DEBUG)

    authenticate(settings, "alice", alice.password)
    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(settings, "alice", "typo-" + alice.password)
    with pytest.raises(DirectoryUnavailable):
        authenticate(openldap_settings(slapd_server, urls=(slapd_server.dead_url,)), "alice", alice.password)

    assert "alice" in caplog.text  # the adapter does log, by login
    assert alice.password not in caplog.text
    assert settings.bind_password not in caplog.text
