"""Pure rules of the directory adapter: group matching, login forms, settings validation. No I/O."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.auth.ldap import (
    DirectoryInvalidCredentials,
    DirectorySettings,
    DirectoryUser,
    LoginLookup,
    group_matches,
    group_name_from_dn,
    normalise_dn,
    resolve_login,
)
from chalicelib.domain.errors import BadData

ALICE = DirectoryUser(
    dn="uid=alice,ou=people,dc=example,dc=org",
    login="alice",
    display_name="Alice",
    email=None,
    groups=(
        "cn=vdi-users,ou=groups,dc=example,dc=org",
        "CN=Design Team,OU=Groups,DC=example,DC=org",
        "cn=Smith\\, Jones and Co,ou=groups,dc=example,dc=org",
    ),
    group_names=("vdi-users", "design team", "smith, jones and co"),
)


def settings(**overrides: Any) -> DirectorySettings:
    values: dict[str, Any] = {
        "urls": ("ldap://127.0.0.1:389",),
        "bind_dn": "cn=broker,dc=example,dc=org",
        "bind_password": "s3rvice-Secret",
        "search_base": "dc=example,dc=org",
    }
    values.update(overrides)
    return DirectorySettings(**values)


def ad(**overrides: Any) -> DirectorySettings:
    return settings(**{"flavour": "active_directory", "login_attribute": "sAMAccountName", **overrides})


# ------------------------------------------------------------------------------------------- group_matches


@pytest.mark.parametrize(
    "rule_group",
    [
        "cn=vdi-users,ou=groups,dc=example,dc=org",
        "CN=VDI-Users,OU=Groups,DC=Example,DC=Org",
        "cn = vdi-users , ou=groups,  dc=example , dc=org",
        "  cn=vdi-users,ou=groups,dc=example,dc=org  ",
        "cn=design team,ou=groups,dc=example,dc=org",
        "cn=vdi\\2Dusers,ou=groups,dc=example,dc=org",
        "cn=Smith\\2C Jones and Co,ou=groups,dc=example,dc=org",
        "vdi-users",
        "VDI-USERS",
        " Design Team ",
        "Smith, Jones and Co",
    ],
)
def test_rule_group_matches(rule_group: str) -> None:
    assert group_matches(ALICE, rule_group)


@pytest.mark.parametrize(
    "rule_group",
    [
        "cn=vdi-admins,ou=groups,dc=example,dc=org",
        "cn=vdi-users,ou=groups,dc=other,dc=org",  # same CN, another tree: a DN rule is exact
        "cn=vdi-users,dc=example,dc=org",
        "ou=groups,dc=example,dc=org",
        "vdi-admins",
        "vdi",  # no substring matching
        "design",
        "",
        "   ",
        "cn=",  # looks like a DN, does not parse
        "=vdi-users",
    ],
)
def test_rule_group_does_not_match(rule_group: str) -> None:
    assert not group_matches(ALICE, rule_group)


def test_user_without_groups_matches_nothing() -> None:
    nobody = DirectoryUser(
        dn="uid=x,dc=o", login="x", display_name="x", email=None, groups=(), group_names=()
    )

    assert not group_matches(nobody, "vdi-users")
    assert not group_matches(nobody, "cn=vdi-users,ou=groups,dc=example,dc=org")


@given(
    flips=st.lists(st.booleans(), min_size=40, max_size=40),
    pad=st.sampled_from(["", " ", "  "]),
)
def test_dn_match_ignores_case_and_padding(flips: list[bool], pad: str) -> None:
    dn = "cn=vdi-users,ou=groups,dc=example,dc=org"
    recased = "".join(c.upper() if flip else c for c, flip in zip(dn, flips, strict=False)) + dn[len(flips) :]
    padded = recased.replace(",", f"{pad},{pad}")

    assert group_matches(ALICE, padded)


def test_normalise_dn_and_group_name() -> None:
    assert normalise_dn("CN=A B , OU=X") == normalise_dn("cn=a b,ou=x")
    assert normalise_dn("not a dn") is None
    assert group_name_from_dn("CN=VDI Users,OU=Groups,DC=corp") == "vdi users"
    assert group_name_from_dn("ou=Groups,dc=corp") is None


# -------------------------------------------------------------------------------------------- login forms


def test_plain_ldap_searches_the_configured_attribute_as_typed() -> None:
    assert resolve_login(settings(), "alice") == LoginLookup("uid", "alice")
    assert resolve_login(settings(login_attribute="mail"), "a@example.org") == LoginLookup(
        "mail", "a@example.org"
    )
    # A backslash is just a character outside AD; the search escapes it.
    assert resolve_login(settings(), "CORP\\alice") == LoginLookup("uid", "CORP\\alice")


def test_login_is_trimmed() -> None:
    assert resolve_login(settings(), "  alice\t") == LoginLookup("uid", "alice")


@pytest.mark.parametrize("login", ["", " ", "\t"])
def test_empty_login_is_invalid_credentials(login: str) -> None:
    with pytest.raises(DirectoryInvalidCredentials):
        resolve_login(settings(), login)


@pytest.mark.parametrize(
    ("login", "expected"),
    [
        ("erin", LoginLookup("sAMAccountName", "erin")),
        ("CORP\\erin", LoginLookup("sAMAccountName", "erin")),
        ("corp\\erin", LoginLookup("sAMAccountName", "erin")),
        ("corp.example\\erin", LoginLookup("sAMAccountName", "erin")),
        ("\\erin", LoginLookup("sAMAccountName", "erin")),
        ("erin@corp.example", LoginLookup("userPrincipalName", "erin@corp.example")),
        ("erin@other.example", LoginLookup("userPrincipalName", "erin@other.example")),
    ],
)
def test_active_directory_login_forms(login: str, expected: LoginLookup) -> None:
    assert resolve_login(ad(login_domain="corp.example"), login) == expected


@pytest.mark.parametrize("login", ["OTHER\\erin", "CORP\\", "CORP\\erin\\x", "example\\erin"])
def test_active_directory_refuses_foreign_or_malformed_domain_forms(login: str) -> None:
    with pytest.raises(DirectoryInvalidCredentials):
        resolve_login(ad(login_domain="corp.example"), login)


def test_netbios_login_domain_is_checked_too() -> None:
    assert resolve_login(ad(login_domain="CORP"), "corp\\erin") == LoginLookup("sAMAccountName", "erin")
    with pytest.raises(DirectoryInvalidCredentials):
        resolve_login(ad(login_domain="CORP"), "OTHER\\erin")


def test_any_domain_prefix_is_accepted_when_none_is_configured() -> None:
    assert resolve_login(ad(), "ANY\\erin") == LoginLookup("sAMAccountName", "erin")


def test_bare_name_becomes_a_upn_only_when_upn_is_the_login_attribute_and_suffix_known() -> None:
    upn = ad(login_attribute="userPrincipalName", login_domain="corp.example")
    assert resolve_login(upn, "erin") == LoginLookup("userPrincipalName", "erin@corp.example")
    netbios_only = ad(login_attribute="userPrincipalName", login_domain="CORP")
    assert resolve_login(netbios_only, "erin") == LoginLookup("sAMAccountName", "erin")


def test_active_directory_with_a_custom_login_attribute() -> None:
    custom = settings(flavour="active_directory", login_attribute="employeeID")
    assert resolve_login(custom, "12345") == LoginLookup("employeeID", "12345")


@given(st.text(max_size=60))
def test_resolve_login_either_refuses_or_returns_a_nonempty_trimmed_value(login: str) -> None:
    for flavour_settings in (settings(), ad(login_domain="corp.example")):
        try:
            lookup = resolve_login(flavour_settings, login)
        except DirectoryInvalidCredentials:
            continue
        assert lookup.value
        assert lookup.attribute in ("uid", "sAMAccountName", "userPrincipalName")


# --------------------------------------------------------------------------------------------- settings


def test_settings_repr_hides_the_bind_password() -> None:
    configured = settings(bind_password="Very-Secret-Service-Pass")

    assert "Very-Secret-Service-Pass" not in repr(configured)
    assert "Very-Secret-Service-Pass" not in str(configured)
    assert "cn=broker,dc=example,dc=org" in repr(configured)


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"urls": ()}, "urls"),
        ({"urls": ("http://127.0.0.1",)}, "urls"),
        ({"urls": ("ldap://",)}, "urls"),
        ({"urls": ("ldap://127.0.0.1:99999",)}, "urls"),
        ({"flavour": "novell"}, "flavour"),
        ({"group_membership": "guess"}, "group_membership"),
        ({"group_membership": "group_search", "group_search_base": None}, "group_search_base"),
        ({"login_attribute": " "}, "login_attribute"),
        ({"connect_timeout_seconds": 0}, "connect_timeout_seconds"),
        ({"receive_timeout_seconds": -1}, "receive_timeout_seconds"),
    ],
)
def test_bad_settings_name_the_field(overrides: dict[str, Any], path: str) -> None:
    with pytest.raises(BadData) as raised:
        settings(**overrides)

    assert [error.path for error in raised.value.errors] == [path]


def test_good_urls_are_accepted() -> None:
    configured = settings(
        urls=("ldap://dc1.corp.example", "LDAPS://dc2.corp.example:3269", "ldap://[::1]:1389")
    )

    assert len(configured.urls) == 3
