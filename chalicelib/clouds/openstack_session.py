"""The OpenStack adapter's HTTP plumbing: a counted, time-limited keystoneauth session and the
process-wide cache of one connection (token, request counter, resolved names) per center.

How requests are sent and how long a connection lives change for reasons of their own (timeouts, retries,
the cold start's token), apart from what the adapter asks the cloud (`chalicelib/clouds/openstack.py`) and
what its failures mean (`chalicelib/clouds/openstack_errors.py`). See docs/clouds.md, "Connection" and
"Request counting".
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import openstack.connection
import requests
import requests.adapters
import urllib3.exceptions
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3 as ksa_v3

from chalicelib.clouds.openstack_errors import SentNotAnswered
from chalicelib.clouds.request_counts import INVENTORY, TOKEN, RequestCounter
from chalicelib.domain.cloud import CenterAccess
from chalicelib.settings import get_settings

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0  # default; BROKER_CLOUD_READ_TIMEOUT_SECONDS (settings) sets it per connection
# One retry on a refused/reset connection smooths over an API worker restart; never more.
CONNECT_RETRIES = 1
# Name lookups (image/flavor/network) are cached this long per connection: long enough that a burst of
# creates resolves once, short enough that a re-uploaded image under the same name is picked up.
RESOLUTION_TTL_SECONDS = 300.0
CONNECTION_CACHE_SIZE = 32
APP_NAME = "vdi-broker"

_Value = TypeVar("_Value")

# The category the current HTTP request is counted under; set by CountingSession.request and read by
# the transport, which sees every request (retries and redirects included) exactly once.
_request_category: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_category", default=None
)
# Set while the adapter lists or resolves inventory, so those requests count as `inventory`.
_inventory_scope: contextvars.ContextVar[bool] = contextvars.ContextVar("inventory_scope", default=False)


@contextmanager
def counting_as_inventory() -> Iterator[None]:
    """Requests sent inside this block (on this thread or task) count as `inventory`."""
    reset_token = _inventory_scope.set(True)
    try:
        yield
    finally:
        _inventory_scope.reset(reset_token)


# --- the counted, time-limited HTTP session ------------------------------------------------------------

# A repeated POST (or PATCH) is not harmless: Nova would build a second server under the same name.
_NOT_IDEMPOTENT = frozenset({"POST", "PATCH"})


def _never_connected(error: requests.exceptions.RequestException) -> bool:
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.exceptions.ConnectTimeout) or isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


class _TimeoutCountingAdapter(requests.adapters.HTTPAdapter):
    """requests transport: default (connect, read) timeouts and one count per request actually sent."""

    def __init__(self, counter: RequestCounter, read_timeout: float = READ_TIMEOUT_SECONDS) -> None:
        super().__init__()
        self._counter = counter
        self._read_timeout = read_timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (CONNECT_TIMEOUT_SECONDS, self._read_timeout)
        category = _request_category.get() or "unknown"
        self._counter.record(category)
        try:
            return super().send(request, **kwargs)
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as error:
            # Safe to retry: nothing was sent, or a token request (asking for a token twice is harmless).
            if request.method not in _NOT_IDEMPOTENT or category == TOKEN or _never_connected(error):
                raise
            raise SentNotAnswered(f"{request.method} {request.url}: {error}") from error


class CountingSession(ksa_session.Session):
    """keystoneauth session that labels each request with its category before it is sent."""

    def __init__(
        self, auth: ksa_v3.Password, counter: RequestCounter, read_timeout: float = READ_TIMEOUT_SECONDS
    ) -> None:
        http = requests.Session()
        transport = _TimeoutCountingAdapter(counter, read_timeout)
        http.mount("http://", transport)
        http.mount("https://", transport)
        super().__init__(auth=auth, session=http, app_name=APP_NAME)
        self._identity_prefix = _url_prefix(auth.auth_url)

    def request(self, url: str, method: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        category = self._categorise(url, kwargs.get("endpoint_filter"))
        reset_token = _request_category.set(category)
        try:
            return super().request(url, method, **kwargs)
        finally:
            _request_category.reset(reset_token)

    def _categorise(self, url: str, endpoint_filter: dict[str, Any] | None) -> str:
        service_type = (endpoint_filter or {}).get("service_type")
        if service_type == "identity" or (not service_type and url.startswith(self._identity_prefix)):
            return TOKEN
        if _inventory_scope.get():
            return INVENTORY
        return _canonical_service(service_type) if service_type else self._service_of_url(url)

    def _service_of_url(self, url: str) -> str:
        # Version discovery (GET of a service's root) carries no endpoint_filter: find it in the catalog.
        access = getattr(self.auth, "auth_ref", None)
        if access is not None and access.service_catalog is not None:
            prefix = _url_prefix(url)
            for service_type, endpoints in access.service_catalog.get_endpoints().items():
                if any(_url_prefix(endpoint.get("url", "")) == prefix for endpoint in endpoints):
                    return _canonical_service(service_type)
        return "unknown"


def _url_prefix(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _canonical_service(service_type: str) -> str:
    return {"volumev3": "block-storage", "volumev2": "block-storage", "volume": "block-storage"}.get(
        service_type, service_type
    )


def password_auth(access: CenterAccess, scoped: bool = True) -> ksa_v3.Password:
    """Keystone v3 password auth for the center's account; project scoped unless told otherwise."""
    scope: dict[str, str] = {}
    if scoped:
        # The project's domain, not the user's: users often live in another (an LDAP-backed one).
        scope = {"project_name": access.project, "project_domain_name": access.project_domain_name}
    return ksa_v3.Password(auth_url=access.auth_url, username=access.username, password=access.password,
                           user_domain_name=access.domain, **scope)


# --- connection cache ----------------------------------------------------------------------------------


@dataclass
class _Resolved:
    value: Any
    expires_at: float


@dataclass
class CenterConnection:
    """What one process keeps per center: the SDK connection (and so its token), counts, resolved names."""

    access: CenterAccess
    connection: openstack.connection.Connection
    session: CountingSession
    counter: RequestCounter
    _resolved: dict[tuple[str, str], _Resolved] = field(default_factory=dict, init=False, repr=False)
    # Held while a name is resolved, so that a burst of creates on several threads resolves it once.
    _resolving: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    def resolved(self, kind: str, ref: str, load: Callable[[], _Value]) -> _Value:
        """`load()`'s value for (kind, ref), reused for RESOLUTION_TTL_SECONDS; its requests count as
        inventory."""
        key = (kind, ref)
        entry = self._resolved.get(key)
        if entry is not None and entry.expires_at > time.monotonic():
            return entry.value
        with self._resolving:
            entry = self._resolved.get(key)  # another thread may have resolved it meanwhile
            now = time.monotonic()
            if entry is not None and entry.expires_at > now:
                return entry.value
            with counting_as_inventory():
                value = load()
            self._resolved[key] = _Resolved(value, now + RESOLUTION_TTL_SECONDS)
            return value

    def forget_resolved(self, kind: str, ref: str) -> None:
        self._resolved.pop((kind, ref), None)


_connections: OrderedDict[tuple[str, ...], CenterConnection] = OrderedDict()
_connections_lock = threading.Lock()


def _cache_key(access: CenterAccess) -> tuple[str, ...]:
    # The password is part of the key (hashed, never kept in clear in the key) so a changed password
    # opens a new connection instead of reusing a token minted with the old one.
    password_hash = hashlib.sha256(access.password.encode()).hexdigest()
    return (access.auth_url.rstrip("/"), access.domain, access.project, access.username, password_hash,
            access.region or "", access.center_type.value, access.project_domain_name)


def _connect(access: CenterAccess) -> CenterConnection:
    counter = RequestCounter()
    session = CountingSession(password_auth(access), counter, get_settings().cloud_read_timeout_seconds)
    # Passing a session makes the SDK skip clouds.yaml and OS_* variables entirely.
    connection = openstack.connection.Connection(
        session=session, region_name=access.region, app_name=APP_NAME,
        connect_retries=CONNECT_RETRIES, status_code_retries=0, image_status_code_retries=0,
    )
    return CenterConnection(access=access, connection=connection, session=session, counter=counter)


def connection_for(access: CenterAccess) -> CenterConnection:
    """This process's connection (and token) for the access, opened on first use; LRU of
    CONNECTION_CACHE_SIZE."""
    key = _cache_key(access)
    with _connections_lock:
        center = _connections.get(key)
        if center is None:
            center = _connect(access)
            _connections[key] = center
            while len(_connections) > CONNECTION_CACHE_SIZE:
                _connections.popitem(last=False)
        _connections.move_to_end(key)
    return center


def forget_cached_connections() -> None:
    """Drop every cached connection (tests; a credential rotation)."""
    with _connections_lock:
        _connections.clear()
