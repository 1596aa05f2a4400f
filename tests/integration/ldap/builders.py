"""Settings for the adapter pointing at the session's slapd, with per-test overrides."""

from __future__ import annotations

from typing import Any

from chalicelib.auth.ldap import DirectorySettings
from tests.fixtures.ldap import SlapdServer

# A healthy slapd is never raced against a short timeout (a loaded machine may take seconds to answer);
# the tests of a hung server set the short timeout that server has to run out (test_availability.py).
TIMEOUTS: dict[str, Any] = {"connect_timeout_seconds": 30.0, "receive_timeout_seconds": 30.0}


def openldap_settings(server: SlapdServer, **overrides: Any) -> DirectorySettings:
    tree = server.openldap
    values: dict[str, Any] = {
        "urls": (server.url,),
        "start_tls": False,
        "bind_dn": tree.bind_dn,
        "bind_password": tree.bind_password,
        "search_base": tree.base_dn,
        "login_attribute": "uid",
        "group_membership": "memberOf",
        "group_search_base": tree.groups_base,
        "group_member_attribute": "member",
        "flavour": "ldap",
        "ca_certificate_pem": server.ca_certificate_pem,
        **TIMEOUTS,
    }
    values.update(overrides)
    return DirectorySettings(**values)


def active_directory_settings(server: SlapdServer, **overrides: Any) -> DirectorySettings:
    tree = server.active_directory
    values: dict[str, Any] = {
        "urls": (server.url,),
        "start_tls": False,
        "bind_dn": tree.bind_dn,
        "bind_password": tree.bind_password,
        "search_base": tree.base_dn,
        "login_attribute": "sAMAccountName",
        "group_membership": "memberOf",
        "flavour": "active_directory",
        "login_domain": "corp.example",
        "ca_certificate_pem": server.ca_certificate_pem,
        **TIMEOUTS,
    }
    values.update(overrides)
    return DirectorySettings(**values)
