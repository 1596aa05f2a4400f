"""Authentication servers through the admin API, and logins against the session's real slapd."""

from __future__ import annotations

from typing import Any

from tests.fixtures.ldap import SlapdServer
from tests.integration.client.conftest import (  # noqa: F401 - fixtures shared with the client tests
    ClientApi,
    ClientWorld,
    api,
    client,
    fast_and_fresh,
    other_tenant,
    system_sid,
    tenant,
    world,
)

# A healthy slapd is never raced against a short timeout (a loaded machine may take seconds to answer); a
# test that needs a hung directory to time out quickly says so (tests/reliability/test_ldap_outage.py).
TIMEOUTS = {"connect_timeout_seconds": 30.0, "receive_timeout_seconds": 30.0}
# The test directories are plain ldap:// on loopback: the risk of cleartext passwords is accepted explicitly.
CLEARTEXT = {"allow_cleartext_password": 1}


def ldap_server_body(
    slapd: SlapdServer, name: str = "Example LDAP", domain: str = "example.org", **overrides: Any
) -> dict[str, Any]:
    tree = slapd.openldap
    body = {
        "name": name,
        "type": "ldap",
        "domain": domain,
        "urls": [slapd.url],
        "bind_dn": tree.bind_dn,
        "bind_password": tree.bind_password,
        "search_base": tree.base_dn,
        "login_attribute": "uid",
        "group_membership": "memberOf",
        **TIMEOUTS,
        **CLEARTEXT,
    }
    body.update(overrides)
    return body


def ad_server_body(
    slapd: SlapdServer, name: str = "Corp AD", domain: str = "corp.example", **overrides: Any
) -> dict[str, Any]:
    tree = slapd.active_directory
    body = {
        "name": name,
        "type": "active_directory",
        "domain": domain,
        "urls": [slapd.url],
        "bind_dn": tree.bind_dn,
        "bind_password": tree.bind_password,
        "search_base": tree.base_dn,
        "group_membership": "memberOf",
        **TIMEOUTS,
        **CLEARTEXT,
    }
    body.update(overrides)
    return body


def minimal_ldap_body(name: str = "dir", domain: str = "dir.example", **overrides: Any) -> dict[str, Any]:
    """A directory server that is never contacted (admin API tests)."""
    body = {
        "name": name,
        "type": "ldap",
        "domain": domain,
        "urls": ["ldap://198.51.100.250:389"],
        "bind_dn": "cn=broker,dc=dir,dc=example",
        "bind_password": "Bind-Secret-never-shown",
        "search_base": "dc=dir,dc=example",
        **CLEARTEXT,
    }
    body.update(overrides)
    return body
