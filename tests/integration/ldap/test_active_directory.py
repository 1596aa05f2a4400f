"""Active-Directory-flavoured logins against the AD-style tree (dc=corp,dc=example, ad-lite schema)."""

from __future__ import annotations

import pytest

from chalicelib.auth.ldap import INVALID_CREDENTIALS_MESSAGE, DirectoryInvalidCredentials, authenticate
from tests.fixtures.ldap import SlapdServer
from tests.integration.ldap.builders import active_directory_settings

pytestmark = pytest.mark.ldap

ERIN_DN = "cn=Erin Example,ou=Staff,dc=corp,dc=example"


@pytest.mark.parametrize(
    "typed_login",
    [
        "erin",
        "ERIN",
        "CORP\\erin",
        "corp\\Erin",
        "corp.example\\erin",
        "erin@corp.example",
        "Erin@CORP.example",
    ],
)
def test_every_windows_login_form_finds_the_same_user(slapd_server: SlapdServer, typed_login: str) -> None:
    erin = slapd_server.active_directory.account("erin")

    user = authenticate(active_directory_settings(slapd_server), typed_login, erin.password)

    assert user.dn.lower() == ERIN_DN.lower()
    assert user.login == "erin"  # one broker user whatever form was typed
    assert user.display_name == "Erin Example"
    assert user.email == "erin@corp.example"
    assert user.group_names == ("vdi users",)
    assert [dn.lower() for dn in user.groups] == ["cn=vdi users,ou=groups,dc=corp,dc=example"]


def test_netbios_prefix_of_another_domain_is_refused(slapd_server: SlapdServer) -> None:
    erin = slapd_server.active_directory.account("erin")

    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(active_directory_settings(slapd_server), "OTHER\\erin", erin.password)


def test_without_login_domain_any_netbios_prefix_is_accepted(slapd_server: SlapdServer) -> None:
    erin = slapd_server.active_directory.account("erin")
    settings = active_directory_settings(slapd_server, login_domain=None)

    assert authenticate(settings, "WHATEVER\\erin", erin.password).login == "erin"


def test_upn_of_another_suffix_finds_nobody(slapd_server: SlapdServer) -> None:
    erin = slapd_server.active_directory.account("erin")

    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(active_directory_settings(slapd_server), "erin@elsewhere.example", erin.password)


def test_bare_name_is_completed_to_a_upn_when_upn_is_the_login_attribute(slapd_server: SlapdServer) -> None:
    erin = slapd_server.active_directory.account("erin")
    settings = active_directory_settings(slapd_server, login_attribute="userPrincipalName")

    assert authenticate(settings, "erin", erin.password).dn.lower() == ERIN_DN.lower()


def test_wrong_password_is_refused_with_the_common_message(slapd_server: SlapdServer) -> None:
    with pytest.raises(DirectoryInvalidCredentials) as raised:
        authenticate(active_directory_settings(slapd_server), "CORP\\erin", "not-erins-password")

    assert str(raised.value) == INVALID_CREDENTIALS_MESSAGE


def test_disabled_account_is_refused_even_with_the_right_password(slapd_server: SlapdServer) -> None:
    # The slapd would accept this bind: only the adapter's userAccountControl check stands in the way.
    frank = slapd_server.active_directory.account("frank")

    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(active_directory_settings(slapd_server), "frank", frank.password)


def test_disabled_flag_is_only_read_for_active_directory(slapd_server: SlapdServer) -> None:
    """Same tree as plain LDAP by sAMAccountName: the AD-only rule must not apply (nor crash)."""
    frank = slapd_server.active_directory.account("frank")
    settings = active_directory_settings(slapd_server, flavour="ldap", login_domain=None)

    assert authenticate(settings, "frank", frank.password).login == "frank"


@pytest.mark.parametrize("typed_login", ["*", "e*", "CORP\\*", "*@corp.example", "erin)(sAMAccountName=*"])
def test_wildcards_in_any_form_log_nobody_in(slapd_server: SlapdServer, typed_login: str) -> None:
    erin = slapd_server.active_directory.account("erin")

    with pytest.raises(DirectoryInvalidCredentials):
        authenticate(active_directory_settings(slapd_server), typed_login, erin.password)


def test_group_search_by_member_dn_with_spaces(slapd_server: SlapdServer) -> None:
    svc = slapd_server.active_directory.account("svc-broker")
    settings = active_directory_settings(
        slapd_server,
        group_membership="group_search",
        group_search_base=slapd_server.active_directory.groups_base,
        group_member_attribute="member",
    )

    user = authenticate(settings, "svc-broker@corp.example", svc.password)

    assert user.group_names == ("vdi admins",)
