"""How many HTTP requests a cloud adapter sent, by category (pure: no SDK import).

Categories: `token` (Keystone: authentication and its version discovery), `inventory` (listing or
resolving images, flavors, networks, availability zones, security groups, volume types) and every other
request under the service type that served it (`compute`, `network`, `block-storage`, `image`...).
Benchmarks divide these by the desktops provisioned to report "OpenStack requests per desktop".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

TOKEN = "token"  # noqa: S105 (a category name, not a secret)
INVENTORY = "inventory"


@dataclass(frozen=True)
class RequestCounts:
    """An immutable reading of the counter; subtract two readings to get what happened in between."""

    token: int = 0
    inventory: int = 0
    by_service: dict[str, int] = field(default_factory=dict)

    @property
    def other(self) -> int:
        return sum(self.by_service.values())

    @property
    def total(self) -> int:
        return self.token + self.inventory + self.other

    def __sub__(self, earlier: RequestCounts) -> RequestCounts:
        services = set(self.by_service) | set(earlier.by_service)
        difference = {
            name: self.by_service.get(name, 0) - earlier.by_service.get(name, 0) for name in services
        }
        return RequestCounts(
            token=self.token - earlier.token,
            inventory=self.inventory - earlier.inventory,
            by_service={name: count for name, count in difference.items() if count},
        )

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "token": self.token, "inventory": self.inventory, "other": self.other,
                **{f"service:{name}": count for name, count in sorted(self.by_service.items())}}


class RequestCounter:
    """Thread-safe tally; the adapter's HTTP transport calls `record` once per request sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_category: dict[str, int] = {}

    def record(self, category: str) -> None:
        with self._lock:
            self._by_category[category] = self._by_category.get(category, 0) + 1

    def reading(self) -> RequestCounts:
        with self._lock:
            counts = dict(self._by_category)
        token = counts.pop(TOKEN, 0)
        inventory = counts.pop(INVENTORY, 0)
        return RequestCounts(token=token, inventory=inventory, by_service=counts)

    def reset(self) -> None:
        with self._lock:
            self._by_category.clear()
