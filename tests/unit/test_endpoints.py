"""Where a stored password goes (chalicelib/domain/endpoints.py)."""

from __future__ import annotations

import pytest

from chalicelib.domain.endpoints import (
    Endpoint,
    Transport,
    endpoint_of,
    new_endpoints,
    same_account,
    sends_in_clear,
    why_secret_needed_again,
)


@pytest.mark.parametrize(("url", "expected"), [
    ("https://Keystone.Example.com/v3", Endpoint("https", "keystone.example.com", 443)),
    ("HTTPS://keystone.example.com.:443/identity/v3", Endpoint("https", "keystone.example.com", 443)),
    ("http://127.0.0.1:5000/v3", Endpoint("http", "127.0.0.1", 5000)),
    ("ldap://dir.example", Endpoint("ldap", "dir.example", 389)),
    ("ldaps://[2001:db8::1]/", Endpoint("ldaps", "2001:db8::1", 636)),
    ("ldaps://dir.example:99999", None),
    ("ftp://dir.example", None),
    ("https:///v3", None),
])
def test_an_endpoint_is_the_normalised_origin(url: str, expected: Endpoint | None) -> None:
    assert endpoint_of(url) == expected


def test_new_endpoints_are_those_not_reached_before() -> None:
    before = ["ldaps://a.example", "ldaps://b.example:636"]
    assert new_endpoints(before, ["LDAPS://B.example/", "ldaps://a.example:636"]) == []
    assert new_endpoints(before, ["ldaps://a.example"]) == []
    assert new_endpoints(before, ["ldaps://a.example", "ldap://a.example:636"]) == ["ldap://a.example:636"]
    assert new_endpoints(before, ["ldaps://c.example"]) == ["ldaps://c.example"]
    assert new_endpoints(before, ["garbage"]) == ["garbage"]


def test_cleartext_is_http_and_ldap_without_start_tls() -> None:
    assert sends_in_clear("http://127.0.0.1:5000/v3")
    assert not sends_in_clear("https://keystone.example.com/v3")
    assert sends_in_clear("ldap://dir.example") and sends_in_clear("LDAP://dir.example")
    assert not sends_in_clear("ldap://dir.example", start_tls=True)
    assert not sends_in_clear("ldaps://dir.example")


def test_accounts_compare_without_case_and_dn_blanks() -> None:
    assert same_account(["cn=Broker, dc=Example"], ["CN=broker,DC=example"])
    assert not same_account(["cn=broker,dc=example"], ["cn=admin,dc=example"])
    assert same_account(["demo", "Default"], ["DEMO", "default"])
    assert not same_account(["demo", "Default"], ["demo", "Other"])


SAFE = Transport(start_tls=True, verify_tls=True, ca_certificate_pem="CA")


@pytest.mark.parametrize(("after", "plain_ldap", "weakened"), [
    (Transport(False, True, "CA"), True, True),
    (Transport(False, True, "CA"), False, False),  # StartTLS is not used with ldaps:// anyway
    (Transport(True, False, "CA"), False, True),
    (Transport(True, True, "other CA"), False, True),
    (Transport(True, True, None), False, True),
    (Transport(True, True, "CA\n"), False, False),
])
def test_weaker_protection_on_the_way_counts_as_a_new_recipient(after: Transport, plain_ldap: bool,
                                                                 weakened: bool) -> None:
    urls = ["ldap://dir.example"] if plain_ldap else ["ldaps://dir.example"]
    reason = why_secret_needed_again(urls, urls, ["cn=b"], ["cn=b"], SAFE, after)
    assert (reason is not None) is weakened, reason


def test_the_reason_names_the_new_endpoint() -> None:
    reason = why_secret_needed_again(["https://k.example/v3"], ["https://evil.example:8443/v3"], ["u"], ["u"])
    assert reason == "it would now be sent to https://evil.example:8443"
    assert why_secret_needed_again(["https://k.example/v3"], ["https://k.example/x/v3"], ["u"], ["u"]) is None
    assert why_secret_needed_again(["https://k.example/v3"], ["https://k.example/v3"], ["u"], ["v"]) == (
        "it would now be sent for another account")


def test_the_reason_shows_an_ipv6_endpoint_in_brackets_and_an_unparsable_url_quoted_and_cut() -> None:
    before = ["https://k.example/v3"]
    assert why_secret_needed_again(before, ["https://[2001:db8::1]/v3"], ["u"], ["u"]) == (
        "it would now be sent to https://[2001:db8::1]:443")
    long = "k" * 150
    assert why_secret_needed_again(before, [long], ["u"], ["u"]) == f"it would now be sent to {'k' * 100!r}"


def test_dn_blanks_around_equals_and_plus_do_not_make_another_account() -> None:
    assert same_account(["cn = Broker + uid = b , dc=example"], ["cn=broker+uid=b,dc=example"])
    assert not same_account([None], ["xxxx"])  # no account named is not the account "xxxx"


@pytest.mark.parametrize(("after", "reason"), [
    (Transport(False, True, "CA"), "StartTLS is turned off"),
    (Transport(True, False, "CA"), "certificate verification is turned off"),
    (Transport(True, True, "other CA"), "the trusted CA certificate changes"),
])
def test_each_weakening_is_named(after: Transport, reason: str) -> None:
    urls = ["ldap://dir.example"]
    assert why_secret_needed_again(urls, urls, ["cn=b"], ["cn=b"], SAFE, after) == reason
    # a URL that cannot be parsed is no plain LDAP, and no crash
    assert SAFE.weakened_in(after, ["garbage", *urls]) == reason
    if not after.start_tls:
        assert SAFE.weakened_in(after, ["garbage"]) is None


def test_no_ca_and_an_empty_ca_are_the_same_trust() -> None:
    none, empty = Transport(True, True, None), Transport(True, True, "")
    assert none.weakened_in(empty, ["ldaps://d.example"]) is None
    assert empty.weakened_in(none, ["ldaps://d.example"]) is None


def test_without_both_transports_only_endpoints_and_accounts_count() -> None:
    urls = ["ldap://dir.example"]
    assert why_secret_needed_again(urls, urls, ["cn=b"], ["cn=b"], SAFE, None) is None
    assert why_secret_needed_again(urls, urls, ["cn=b"], ["cn=b"], None, SAFE) is None


def test_the_reason_lists_every_new_endpoint() -> None:
    after = ["https://a.example", "https://b.example"]
    reason = why_secret_needed_again(["https://k.example"], after, ["u"], ["u"])
    assert reason == "it would now be sent to https://a.example:443, https://b.example:443"


def test_a_url_without_host_still_says_whether_it_travels_in_clear() -> None:
    assert sends_in_clear("http://") and sends_in_clear("ldap://") and not sends_in_clear("https://")
