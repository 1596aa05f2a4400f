"""LDAP and Active Directory authentication through ldap3.

The flow is the classic "search then bind": bind as a service account, find exactly one entry for the
login, then bind as that entry's DN with the user's password on a fresh connection, and finally read
the user's groups with the service account. Everything network-facing is bounded by the configured
connect and receive timeouts, and each URL is tried in order so a dead replica fails over to the next.
One deadline (`deadline_seconds`, from BROKER_LDAP_DEADLINE_SECONDS) bounds the whole login or check
across every URL and operation (connect, StartTLS, bind, search): each operation waits at most what is
left of it, so ten hung replicas cost the deadline, not ten timeouts, and the caller answers 503 with
Retry-After before the API's own time limit turns it into a 504 (docs/ldap.md).

Error policy: anything that says "these credentials do not let this person in" becomes
`DirectoryInvalidCredentials` with one fixed message (so a caller cannot tell an unknown login from a
wrong password); anything that says "we could not ask the directory" becomes `DirectoryUnavailable`.
Passwords never reach a log line or an exception message.
"""

from __future__ import annotations

import logging
import math
import re
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ldap3 import BASE, NONE, SIMPLE, SUBTREE, SYNC, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPInvalidDnError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from chalicelib.domain.errors import BadData, ServiceUnavailable, Unauthorized
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

FLAVOUR_LDAP = "ldap"
FLAVOUR_ACTIVE_DIRECTORY = "active_directory"
GROUPS_FROM_MEMBER_OF = "memberOf"
GROUPS_FROM_GROUP_SEARCH = "group_search"

INVALID_CREDENTIALS_MESSAGE = "Invalid username or password"
RETRY_AFTER_SECONDS = 30  # what a 503 caused by the directory tells the client to wait

# LDAP result codes (RFC 4511) that mean "the server answered and said no to this bind".
_BIND_REFUSED_CODES = frozenset({48, 49, 50, 53})  # inappropriateAuth, invalidCredentials, access, unwilling
# Result codes after which another replica may well succeed.
_TRY_NEXT_SERVER_CODES = frozenset({51, 52})  # busy, unavailable
_SUCCESS = 0
_SIZE_LIMIT_EXCEEDED = 4
_NO_SUCH_OBJECT = 32

# Active Directory's userAccountControl flag for a disabled account.
_AD_ACCOUNT_DISABLE = 0x2
# Sub-codes AD puts in the diagnostic message of a refused bind ("... data 52e, ..."): logged for admins.
_AD_BIND_REASONS = {
    "525": "user not found",
    "52e": "wrong password",
    "530": "logon not permitted at this time",
    "531": "logon not permitted at this workstation",
    "532": "password expired",
    "533": "account disabled",
    "701": "account expired",
    "773": "password must be reset",
    "775": "account locked out",
}
_AD_DATA_CODE = re.compile(r"\bdata ([0-9a-f]{3,4})\b", re.IGNORECASE)


class DirectoryInvalidCredentials(Unauthorized):
    """The directory would not let this login in; the message never says which part was wrong."""

    def __init__(self) -> None:
        super().__init__(INVALID_CREDENTIALS_MESSAGE)


class DirectoryUnavailable(ServiceUnavailable):
    """No configured directory server could answer (or it refused the service account)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=RETRY_AFTER_SECONDS)


def _default_deadline() -> float:
    return get_settings().ldap_deadline_seconds


@dataclass(frozen=True, kw_only=True)
class DirectorySettings:
    """How to reach and query one LDAP or Active Directory authentication server."""

    urls: tuple[str, ...]
    bind_dn: str
    bind_password: str = field(repr=False)  # never in a repr, hence never in a log line
    search_base: str
    login_attribute: str = "uid"
    start_tls: bool = False
    group_membership: str = GROUPS_FROM_MEMBER_OF
    group_search_base: str | None = None
    group_member_attribute: str = "member"
    connect_timeout_seconds: float = 5.0
    receive_timeout_seconds: float = 10.0
    deadline_seconds: float = field(default_factory=_default_deadline)  # the whole login, every URL
    flavour: str = FLAVOUR_LDAP
    login_domain: str | None = None
    verify_tls: bool = True
    ca_certificate_pem: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Fail at construction with a field path, not deep inside ldap3 at the first login.
        if not self.urls:
            raise BadData.field("urls", "at least one ldap:// or ldaps:// URL is required")
        for url in self.urls:
            _parse_url(url)
        if self.flavour not in (FLAVOUR_LDAP, FLAVOUR_ACTIVE_DIRECTORY):
            raise BadData.field("flavour", f"must be {FLAVOUR_LDAP!r} or {FLAVOUR_ACTIVE_DIRECTORY!r}")
        if self.group_membership not in (GROUPS_FROM_MEMBER_OF, GROUPS_FROM_GROUP_SEARCH):
            raise BadData.field(
                "group_membership", f"must be {GROUPS_FROM_MEMBER_OF!r} or {GROUPS_FROM_GROUP_SEARCH!r}"
            )
        if self.group_membership == GROUPS_FROM_GROUP_SEARCH and not self.group_search_base:
            raise BadData.field("group_search_base", "is required when group_membership is group_search")
        if not self.login_attribute.strip():
            raise BadData.field("login_attribute", "must not be empty")
        if self.connect_timeout_seconds <= 0:
            raise BadData.field("connect_timeout_seconds", "must be positive")
        if self.receive_timeout_seconds <= 0:
            raise BadData.field("receive_timeout_seconds", "must be positive")
        if self.deadline_seconds <= 0:
            raise BadData.field("deadline_seconds", "must be positive")


@dataclass(frozen=True)
class DirectoryUser:
    """A user the directory vouched for, with the groups that drive assignment rules."""

    dn: str
    login: str
    display_name: str
    email: str | None
    groups: tuple[str, ...]
    group_names: tuple[str, ...]  # the groups' CN values, lower-cased for matching


@dataclass(frozen=True)
class LoginLookup:
    """Which attribute to search, and for which value, for what the user typed."""

    attribute: str
    value: str


@dataclass(frozen=True)
class _Endpoint:
    url: str
    host: str
    port: int
    use_ssl: bool


@dataclass(frozen=True)
class _FoundEntry:
    dn: str
    attributes: dict[str, list[str]]


class _Deadline:
    """What is left of one login's (or check's) time with the directory."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds

    def left(self, doing: str) -> float:
        """The seconds left for the next operation; DirectoryUnavailable when none are."""
        remaining = self._ends - time.monotonic()
        if remaining <= 0:
            raise DirectoryUnavailable(self.passed(doing))
        return remaining

    def passed(self, doing: str) -> str:
        return f"The directory did not finish within the {self.seconds:g} s deadline (before {doing})"

    def timeout(self, configured: float, doing: str) -> float:
        """An operation's timeout: the configured one, or what is left of the deadline if less."""
        return min(configured, self.left(doing))


# ---------------------------------------------------------------------------------------------- pure rules


def resolve_login(settings: DirectorySettings, login: str) -> LoginLookup:
    """Map the typed login to the attribute and value to search for.

    Plain LDAP searches `login_attribute` for the login as typed. Active Directory accepts the three
    forms Windows users type: `user@suffix` (searched as userPrincipalName), `DOMAIN\\user` and bare
    `user` (searched as sAMAccountName). A `DOMAIN\\` that is not ours is refused like a bad password.
    """
    typed = login.strip()
    if not typed:
        raise DirectoryInvalidCredentials()
    if settings.flavour != FLAVOUR_ACTIVE_DIRECTORY:
        return LoginLookup(settings.login_attribute, typed)

    if "\\" in typed:
        domain, _, account = typed.partition("\\")
        if not account or "\\" in account or (domain and not _is_our_domain(settings.login_domain, domain)):
            raise DirectoryInvalidCredentials()
        return LoginLookup("sAMAccountName", account)
    if "@" in typed:
        return LoginLookup("userPrincipalName", typed)
    if settings.login_attribute.lower() == "userprincipalname":
        # Users who were told to log in by UPN still type the bare name; complete it when we know how.
        if settings.login_domain and "." in settings.login_domain:
            return LoginLookup("userPrincipalName", f"{typed}@{settings.login_domain}")
        return LoginLookup("sAMAccountName", typed)
    if settings.login_attribute.lower() == "samaccountname":
        return LoginLookup("sAMAccountName", typed)
    return LoginLookup(settings.login_attribute, typed)


def _is_our_domain(login_domain: str | None, typed_domain: str) -> bool:
    """`CORP\\x` is ours if login_domain is `CORP` or `corp.example` (first label = NetBIOS name)."""
    if not login_domain:
        return True  # nothing configured to check against: the search base decides
    wanted = typed_domain.strip().lower()
    configured = login_domain.strip().lower()
    return wanted in (configured, configured.split(".", 1)[0])


def group_matches(user: DirectoryUser, rule_group: str) -> bool:
    """Whether an assignment rule's group names one of the user's groups.

    A rule written as a DN is compared to the user's group DNs ignoring case and the spaces around
    separators; a plain name is compared to the groups' CNs ignoring case.
    """
    wanted = rule_group.strip()
    if not wanted:
        return False
    if "=" in wanted:
        wanted_dn = normalise_dn(wanted)
        if wanted_dn is None:
            return False
        return any(normalise_dn(group_dn) == wanted_dn for group_dn in user.groups)
    return wanted.lower() in user.group_names


def normalise_dn(dn: str) -> str | None:
    """A canonical, case-folded form of a DN for equality checks; None when it does not parse."""
    try:
        components = parse_dn(dn, escape=False, strip=True)
    except LDAPInvalidDnError:
        return None
    parts: list[str] = []
    for attribute, value, separator in components:
        parts.append(f"{attribute.strip().lower()}={_unescape_dn_value(value).strip().lower()}")
        parts.append(separator if separator == "+" else ",")
    return "".join(parts[:-1])


def group_name_from_dn(dn: str) -> str | None:
    """The CN of a group DN (`cn=VDI Users,ou=groups,...` -> `vdi users`), or None if its RDN is not a CN."""
    try:
        components = parse_dn(dn, escape=False, strip=True)
    except LDAPInvalidDnError:
        return None
    if not components or components[0][0].strip().lower() != "cn":
        return None
    return _unescape_dn_value(components[0][1]).strip().lower()


_DN_ESCAPE = re.compile(r"\\([0-9a-fA-F]{2})|\\(.)")


def _unescape_dn_value(value: str) -> str:
    """Undo RFC 4514 escaping (`\\,` and `\\2C` both mean a comma); hex pairs may spell UTF-8 bytes."""
    raw = bytearray()
    position = 0
    for match in _DN_ESCAPE.finditer(value):
        raw += value[position : match.start()].encode()
        raw += bytes.fromhex(match.group(1)) if match.group(1) else match.group(2).encode()
        position = match.end()
    raw += value[position:].encode()
    return raw.decode("utf-8", errors="replace")


# ------------------------------------------------------------------------------------------ directory I/O


def authenticate(settings: DirectorySettings, login: str, password: str) -> DirectoryUser:
    """Check a login and password against the directory and return who it is, with groups.

    Raises DirectoryInvalidCredentials for anything the user got wrong (or a disabled account) and
    DirectoryUnavailable when no server could be asked.
    """
    # An empty password would make a "simple bind" an unauthenticated bind, which many servers
    # answer with success: refuse it before any network traffic.
    if not password or not password.strip():
        logger.info("LDAP login refused for %r: empty password", login)
        raise DirectoryInvalidCredentials()
    lookup = resolve_login(settings, login)
    deadline = _Deadline(settings.deadline_seconds)

    with _service_connection(settings, deadline) as (endpoint, service):
        entry = _find_single_user(settings, service, endpoint, lookup, login, deadline)
        if settings.flavour == FLAVOUR_ACTIVE_DIRECTORY and _ad_account_disabled(entry):
            # Checked before the bind so a disabled account's password is never tried (nor counted).
            logger.info("LDAP login refused for %r: account %s is disabled", login, entry.dn)
            raise DirectoryInvalidCredentials()
        _bind_as_user(settings, endpoint, entry.dn, password, login, deadline)
        groups, group_names = _collect_groups(settings, service, endpoint, entry, deadline)

    user = DirectoryUser(
        dn=entry.dn,
        login=_canonical_login(settings, entry, lookup),
        display_name=_first(entry.attributes, "displayName")
        or _first(entry.attributes, "cn")
        or lookup.value,
        email=_first(entry.attributes, "mail"),
        groups=groups,
        group_names=group_names,
    )
    logger.info("LDAP login accepted for %r as %s (%d groups)", login, user.dn, len(user.groups))
    return user


def check_connection(settings: DirectorySettings) -> None:
    """Bind with the service account and read the search base (and group base), as an admin's test."""
    deadline = _Deadline(settings.deadline_seconds)
    with _service_connection(settings, deadline) as (endpoint, service):
        bases = [settings.search_base]
        if settings.group_membership == GROUPS_FROM_GROUP_SEARCH and settings.group_search_base:
            bases.append(settings.group_search_base)
        for base in bases:
            _search(settings, service, endpoint, base, "(objectClass=*)", [], deadline, scope=BASE,
                    size_limit=1)


@contextmanager
def _service_connection(
    settings: DirectorySettings, deadline: _Deadline
) -> Iterator[tuple[_Endpoint, Connection]]:
    """Open and bind the service account on the first URL that answers; unbind on the way out."""
    failures: list[str] = []
    for position, url in enumerate(settings.urls):
        endpoint = _parse_url(url)
        try:
            connection = _new_connection(
                settings, endpoint, settings.bind_dn, settings.bind_password, deadline
            )
        except DirectoryUnavailable:
            raise _out_of_time(deadline, settings.urls[position:], failures) from None
        try:
            _open(settings, connection, deadline)
            _limit_wait(settings, connection, deadline, "the service account's bind")
            bound = connection.bind()
        except LDAPException as error:
            failures.append(f"{endpoint.url} ({_describe(settings, error)})")
            _close(connection)
            continue
        except DirectoryUnavailable:
            _close(connection)
            raise _out_of_time(deadline, settings.urls[position:], failures) from None
        if not bound:
            result = connection.result or {}
            code = result.get("result")
            description = result.get("description") or "bind refused"
            _close(connection)
            if code in _TRY_NEXT_SERVER_CODES:
                failures.append(f"{endpoint.url} ({description})")
                continue
            # The server answered: a wrong service password is a configuration problem, not the user's.
            raise DirectoryUnavailable(
                f"Directory {endpoint.url} refused the service account {settings.bind_dn!r}: {description}"
            )
        try:
            yield endpoint, connection
        finally:
            _close(connection)
        return
    message = "No LDAP server could be reached: " + "; ".join(failures)
    logger.warning(message)
    raise DirectoryUnavailable(message)


def _out_of_time(deadline: _Deadline, untried: Sequence[str], failures: list[str]) -> DirectoryUnavailable:
    """The deadline passed while URLs were left: say which failed and which were never asked."""
    left = ", ".join(_parse_url(url).url for url in untried)
    message = deadline.passed(f"{left} answered")
    if failures:
        message += ": " + "; ".join(failures)
    logger.warning(message)
    return DirectoryUnavailable(message)


def _find_single_user(
    settings: DirectorySettings,
    service: Connection,
    endpoint: _Endpoint,
    lookup: LoginLookup,
    typed_login: str,
    deadline: _Deadline,
) -> _FoundEntry:
    search_filter = f"({lookup.attribute}={escape_filter_chars(lookup.value)})"
    entries = _search(
        settings,
        service,
        endpoint,
        settings.search_base,
        search_filter,
        _user_attributes(settings),
        deadline,
        size_limit=2,
    )
    if not entries:
        logger.info("LDAP login refused for %r: no entry matches %s", typed_login, search_filter)
        raise DirectoryInvalidCredentials()
    if len(entries) > 1:
        # Two people answering to one login: binding as either would be a guess, so neither gets in.
        logger.warning("LDAP login refused for %r: several entries match %s", typed_login, search_filter)
        raise DirectoryInvalidCredentials()
    return entries[0]


def _bind_as_user(
    settings: DirectorySettings,
    endpoint: _Endpoint,
    user_dn: str,
    password: str,
    typed_login: str,
    deadline: _Deadline,
) -> None:
    """Prove the password with a bind of its own, never reusing the service account's connection."""
    connection = _new_connection(settings, endpoint, user_dn, password, deadline)
    try:
        _open(settings, connection, deadline)
        _limit_wait(settings, connection, deadline, "the user's bind")
        bound = connection.bind()
        result = dict(connection.result or {})
    except LDAPException as error:
        raise DirectoryUnavailable(
            f"LDAP server {endpoint.url} failed during login ({_describe(settings, error)})"
        ) from error
    finally:
        _close(connection)
    if bound and result.get("result") == _SUCCESS:
        return
    code = result.get("result")
    if code in _BIND_REFUSED_CODES or code is None:
        reason = _ad_reason(str(result.get("message") or "")) or str(result.get("description") or "refused")
        logger.info("LDAP login refused for %r: bind as %s failed: %s", typed_login, user_dn, reason)
        raise DirectoryInvalidCredentials()
    raise DirectoryUnavailable(
        f"LDAP server {endpoint.url} could not check the password: {result.get('description') or code}"
    )


def _collect_groups(
    settings: DirectorySettings,
    service: Connection,
    endpoint: _Endpoint,
    entry: _FoundEntry,
    deadline: _Deadline,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if settings.group_membership == GROUPS_FROM_MEMBER_OF:
        group_dns = _values(entry.attributes, "memberOf")
        names = [name for name in (group_name_from_dn(dn) for dn in group_dns) if name]
        return tuple(group_dns), tuple(dict.fromkeys(names))

    member_attribute = settings.group_member_attribute
    if member_attribute.lower() == "memberuid":
        # posixGroup lists members by uid, not DN.
        member_value = _first(entry.attributes, "uid") or _first(entry.attributes, settings.login_attribute)
        if member_value is None:
            return (), ()
    else:
        member_value = entry.dn
    search_filter = f"({member_attribute}={escape_filter_chars(member_value)})"
    group_base = settings.group_search_base or settings.search_base  # __post_init__ requires the former
    groups = _search(
        settings, service, endpoint, group_base, search_filter, ["cn"], deadline, size_limit=0
    )
    group_dns = [group.dn for group in groups]
    names = [
        (_first(group.attributes, "cn") or group_name_from_dn(group.dn) or "").lower() for group in groups
    ]
    return tuple(group_dns), tuple(dict.fromkeys(name for name in names if name))


def _search(
    settings: DirectorySettings,
    connection: Connection,
    endpoint: _Endpoint,
    base: str,
    search_filter: str,
    attributes: Sequence[str],
    deadline: _Deadline,
    *,
    scope: str = SUBTREE,
    size_limit: int,
) -> list[_FoundEntry]:
    wait = _limit_wait(settings, connection, deadline, f"a search under {base!r}")
    try:
        connection.search(
            base,
            search_filter,
            search_scope=scope,
            attributes=list(attributes) or ["1.1"],  # "1.1" asks for no attributes at all
            size_limit=size_limit,
            time_limit=max(1, math.ceil(wait)),  # the server's own limit, in whole seconds
        )
    except LDAPException as error:
        raise DirectoryUnavailable(
            f"LDAP search on {endpoint.url} failed ({_describe(settings, error)})"
        ) from error
    code = connection.result.get("result")
    if code == _NO_SUCH_OBJECT:
        raise DirectoryUnavailable(f"LDAP base {base!r} does not exist on {endpoint.url}")
    if code not in (_SUCCESS, _SIZE_LIMIT_EXCEEDED):
        description = connection.result.get("description") or code
        raise DirectoryUnavailable(f"LDAP search under {base!r} on {endpoint.url} failed: {description}")
    found: list[_FoundEntry] = []
    for item in connection.response or []:
        # Referrals (AD's "search continuation references") are not followed: they point off-cluster.
        if item.get("type") != "searchResEntry":
            continue
        attributes = {name: _as_strings(value) for name, value in (item.get("attributes") or {}).items()}
        found.append(_FoundEntry(dn=item["dn"], attributes=attributes))
    return found


def _new_connection(
    settings: DirectorySettings, endpoint: _Endpoint, user: str, password: str, deadline: _Deadline
) -> Connection:
    connect_timeout = deadline.timeout(settings.connect_timeout_seconds, f"connecting to {endpoint.url}")
    receive_timeout = deadline.timeout(settings.receive_timeout_seconds, f"connecting to {endpoint.url}")
    server = Server(
        endpoint.host,
        port=endpoint.port,
        use_ssl=endpoint.use_ssl,
        tls=_tls(settings),
        get_info=NONE,  # no schema/rootDSE round trips: we know which attributes we want
        connect_timeout=connect_timeout,
    )
    return Connection(
        server,
        user=user,
        password=password,
        authentication=SIMPLE,
        client_strategy=SYNC,
        auto_bind=False,
        read_only=True,
        raise_exceptions=False,  # result codes are read from connection.result; I/O errors still raise
        auto_referrals=False,
        # ldap3 also sets SO_RCVTIMEO from this value with struct 'LL', which only takes an int; it
        # bounds the TLS handshake of ldaps:// (each later operation sets its own wait: _limit_wait).
        receive_timeout=max(1, math.ceil(receive_timeout)),
    )


def _open(settings: DirectorySettings, connection: Connection, deadline: _Deadline) -> None:
    connection.open()
    if settings.start_tls and not connection.server.ssl:
        _limit_wait(settings, connection, deadline, "StartTLS")
        connection.start_tls()


def _limit_wait(
    settings: DirectorySettings, connection: Connection, deadline: _Deadline, doing: str
) -> float:
    """Bound the next operation's every read by the receive timeout, or by what is left of the deadline
    if less (the socket's timeout is what a hung server runs into)."""
    wait = deadline.timeout(settings.receive_timeout_seconds, doing)
    if connection.socket is not None:
        connection.socket.settimeout(wait)
    return wait


def _tls(settings: DirectorySettings) -> Tls:
    return Tls(
        validate=ssl.CERT_REQUIRED if settings.verify_tls else ssl.CERT_NONE,
        ca_certs_data=settings.ca_certificate_pem or None,
        version=None,  # the default context: modern protocol versions only
    )


def _close(connection: Connection) -> None:
    try:
        if not connection.closed:
            connection.unbind()
    except LDAPException:
        pass  # the socket is gone already; nothing left to release


def _parse_url(url: str) -> _Endpoint:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("ldap", "ldaps") or not parts.hostname:
        raise BadData.field("urls", f"{url!r} is not an ldap:// or ldaps:// URL with a host")
    try:
        port = parts.port or (636 if scheme == "ldaps" else 389)
    except ValueError:
        raise BadData.field("urls", f"{url!r} has an invalid port") from None
    return _Endpoint(
        url=f"{scheme}://{parts.netloc}", host=parts.hostname, port=port, use_ssl=scheme == "ldaps"
    )


def _user_attributes(settings: DirectorySettings) -> list[str]:
    wanted = ["cn", "displayName", "mail", "uid", settings.login_attribute]
    if settings.group_membership == GROUPS_FROM_MEMBER_OF:
        wanted.append("memberOf")  # operational on OpenLDAP: only returned when asked by name
    if settings.flavour == FLAVOUR_ACTIVE_DIRECTORY:
        wanted += ["sAMAccountName", "userPrincipalName", "userAccountControl"]
    return list(dict.fromkeys(wanted))


def _canonical_login(settings: DirectorySettings, entry: _FoundEntry, lookup: LoginLookup) -> str:
    """The login as the directory spells it, so one person is one broker user whatever form they typed."""
    if settings.flavour == FLAVOUR_ACTIVE_DIRECTORY:
        return (
            _first(entry.attributes, "sAMAccountName")
            or _first(entry.attributes, lookup.attribute)
            or lookup.value
        )
    return _first(entry.attributes, settings.login_attribute) or lookup.value


def _ad_account_disabled(entry: _FoundEntry) -> bool:
    flags = _first(entry.attributes, "userAccountControl")
    try:
        return flags is not None and bool(int(flags) & _AD_ACCOUNT_DISABLE)
    except ValueError:
        return False


def _ad_reason(diagnostic: str) -> str | None:
    match = _AD_DATA_CODE.search(diagnostic)
    if not match:
        return None
    code = match.group(1).lower()
    return _AD_BIND_REASONS.get(code, f"AD code {code}")


def _describe(settings: DirectorySettings, error: Exception) -> str:
    """A one-line reason for an I/O error, scrubbed of the service password just in case."""
    text = str(error) or type(error).__name__
    if settings.bind_password and settings.bind_password in text:
        text = text.replace(settings.bind_password, "***")
    return text


def _as_strings(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    strings: list[str] = []
    for item in items:
        if item is None:
            continue
        strings.append(item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item))
    return strings


def _values(attributes: dict[str, list[str]], name: str) -> list[str]:
    """Attribute names are case-insensitive in LDAP; servers may echo them in another case."""
    wanted = name.lower()
    for key, values in attributes.items():
        if key.lower() == wanted:
            return values
    return []


def _first(attributes: dict[str, list[str]], name: str) -> str | None:
    values = _values(attributes, name)
    return values[0] if values else None
