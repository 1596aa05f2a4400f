"""Where a stored password goes, and whether it travels in clear (pure rules, no I/O).

A stored password (a center's Keystone password, a directory's bind password) is the credential of one
account at one service. The admin API never returns it, so the only way to learn it is to make the broker
send it somewhere. Hence: a change of *who can receive it* needs the password again (docs/decisions.md,
"Stored secrets and endpoints"):

- **the endpoint**: the URL's scheme, host and port, compared normalised (scheme and host in lower case,
  a trailing dot dropped, the scheme's default port filled in). That is the URL's origin (RFC 6454): the
  party that terminates the connection and sees the password. A change of path on the same origin (a
  Keystone moved from `/v3` to `/identity/v3`) reaches the same party and needs nothing; a host name
  changed to its IP address is a new endpoint (the broker cannot know they are the same machine);
- **the account**: the user name and its domain (Keystone) or the bind DN (LDAP). The same server gets
  the password either way, but letting an administrator try the stored password with another account
  would be an oracle for password reuse;
- **the protection on the way** (LDAP): StartTLS turned off, certificate verification turned off, or a
  different CA certificate widen who can read the password in transit, as a new endpoint would.

A password sent over plain `http://` or over `ldap://` without StartTLS travels in clear; the records say
so explicitly with `allow_cleartext_password` (`sends_in_clear`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ldap": 389, "ldaps": 636}
CLEARTEXT_SCHEMES = frozenset({"http", "ldap"})
CLEARTEXT_FLAG = "allow_cleartext_password"


@dataclass(frozen=True, order=True)
class Endpoint:
    """Who terminates the connection: the URL's origin."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def endpoint_of(url: str) -> Endpoint | None:
    """The URL's normalised origin; None when it has no recognisable scheme, host or port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()  # `hostname` drops IPv6 brackets and user info
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return Endpoint(scheme, host, port if port is not None else DEFAULT_PORTS[scheme])


def new_endpoints(before: Iterable[str], after: Iterable[str]) -> list[str]:
    """The URLs of `after` whose endpoint none of `before` had (in `after`'s order). Dropping or
    reordering URLs sends the password nowhere new; a URL that cannot be parsed counts as new."""
    known = {endpoint_of(url) for url in before} - {None}
    return [url for url in after if endpoint_of(url) not in known]


def sends_in_clear(url: str, start_tls: bool = False) -> bool:
    """True when a password sent to `url` travels unencrypted: `http://`, or `ldap://` without StartTLS."""
    endpoint = endpoint_of(url)
    scheme = endpoint.scheme if endpoint is not None else urlsplit(url.strip()).scheme.lower()
    if scheme == "ldap":
        return not start_tls
    return scheme in CLEARTEXT_SCHEMES


def same_account(before: Iterable[str | None], after: Iterable[str | None]) -> bool:
    """Whether two account identities (user name and domain, or a bind DN) name the same account.
    Compared without case and without the blanks DNs allow around separators: a false "different" only
    asks for the password once more, a false "same" would hand it to another account."""
    return [_account_key(v) for v in before] == [_account_key(v) for v in after]


def _account_key(value: str | None) -> str:
    text = (value or "").strip().casefold()
    for separator in (",", "=", "+"):
        text = separator.join(part.strip() for part in text.split(separator))
    return text


@dataclass(frozen=True)
class Transport:
    """The protection of an LDAP password on its way: StartTLS, certificate verification, trust anchor."""

    start_tls: bool
    verify_tls: bool
    ca_certificate_pem: str | None

    def weakened_in(self, after: Transport, urls: Iterable[str]) -> str | None:
        """Why `after` lets more parties read the password than `self` did (None if it does not)."""
        plain_ldap = any((endpoint_of(url) or Endpoint("", "", 0)).scheme == "ldap" for url in urls)
        if plain_ldap and self.start_tls and not after.start_tls:
            return "StartTLS is turned off"
        if self.verify_tls and not after.verify_tls:
            return "certificate verification is turned off"
        if (self.ca_certificate_pem or "").strip() != (after.ca_certificate_pem or "").strip():
            return "the trusted CA certificate changes"
        return None


def why_secret_needed_again(before_urls: Iterable[str], after_urls: Iterable[str],
                            before_account: Iterable[str | None], after_account: Iterable[str | None],
                            before_transport: Transport | None = None,
                            after_transport: Transport | None = None) -> str | None:
    """Why a change sends the stored password to a party that could not receive it before (the
    reason, for the error message), or None when it goes nowhere new."""
    after_urls = list(after_urls)
    moved = new_endpoints(before_urls, after_urls)
    if moved:
        return f"it would now be sent to {', '.join(_shown(url) for url in moved)}"
    if not same_account(before_account, after_account):
        return "it would now be sent for another account"
    if before_transport is not None and after_transport is not None:
        weakened = before_transport.weakened_in(after_transport, after_urls)
        if weakened:
            return f"{weakened}"
    return None


def _shown(url: str) -> str:
    endpoint = endpoint_of(url)
    return str(endpoint) if endpoint is not None else repr(url[:100])
