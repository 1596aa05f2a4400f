"""A small in-process cache for records that rarely change, read on every end-user login.

What is cached (see docs/client-api.md): login domain -> (tenant, authentication server), an
authentication server's settings and bind password, protocol plans, and the token signing key; each
for `BROKER_CLIENT_CACHE_SECONDS` (default 120). An administrator's change made through this process
drops the entry at once; other Lambda instances see it when their entry expires. Nothing that decides
who gets which desktop (claims, the user's assigned desktops, policies, users, lockouts) is cached.

Entries belong to the settings they were read under: when the settings object changes (a test
binding a fresh stack, another stage), every cache starts empty.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from chalicelib.settings import Settings, get_settings

V = TypeVar("V")
_MISSING = object()
_registry: list[TtlCache[Any]] = []


def cache_seconds() -> float:
    return get_settings().client_cache_seconds


class TtlCache(Generic[V]):
    def __init__(self, name: str, max_entries: int = 4096) -> None:
        self.name = name
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, V]] = {}
        self._settings: Settings | None = None
        _registry.append(self)

    def _check_settings(self) -> None:
        settings = get_settings()
        if settings is not self._settings:
            self._entries.clear()
            self._settings = settings

    def get(self, key: Hashable, load: Callable[[], V], ttl: float | None = None) -> V:
        """The cached value, or `load()` stored for `ttl` seconds. None results are not cached."""
        ttl = cache_seconds() if ttl is None else ttl
        now = time.monotonic()
        with self._lock:
            self._check_settings()
            entry = self._entries.get(key, _MISSING)
            if entry is not _MISSING and entry[0] > now:  # type: ignore[index]
                return entry[1]  # type: ignore[index]
        value = load()
        if value is not None and ttl > 0:
            with self._lock:
                self._check_settings()
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (now + ttl, value)
        return value

    def drop(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def clear_all() -> None:
    """Forget every cached entry (tests; after a deployment changes keys)."""
    for cache in _registry:
        cache.clear()
