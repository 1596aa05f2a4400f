"""Login names: what a user may type as the domain at login (a tenant's name, or a login domain the
system administrator granted the tenant). Pure rules; the store keeps the names unique
(chalicelib/store/login_names.py)."""

from __future__ import annotations

# The name that means the system tenant at login: no tenant and no login domain may take it.
SYSTEM_LOGIN_NAME = "system"
MAX_GRANTED_DOMAINS = 20  # per tenant; a tenant's save then stays one transaction (invariant 9)



def canonical(name: str) -> str:
    """Login names compare trimmed and case-insensitively."""
    return name.strip().casefold()


def domain_problem(name: str) -> str | None:
    """Why `name` cannot be a login domain (its syntax is checked where the request is parsed), or None."""
    if canonical(name) == SYSTEM_LOGIN_NAME:
        return "This name is reserved for the system tenant"
    return None


def repeated(names: list[str]) -> list[int]:
    """Indexes of names that repeat an earlier one (compared canonically)."""
    seen: set[str] = set()
    twice = []
    for index, name in enumerate(names):
        if canonical(name) in seen:
            twice.append(index)
        seen.add(canonical(name))
    return twice
