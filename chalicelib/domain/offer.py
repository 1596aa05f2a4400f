"""What a login offers: which desktops qualify, in which order they are tried, how many from each pool
assignment, and how each offered desktop is shown. Pure rules: the services feed them plain facts.

The pool assignment fields are the reference's (`offer_quantity`, `favor_previous_assigned`,
`power_on`, `start_if_stopped`, `kiosk`, `display_mode`, `backup_pool_id`), read as follows:

- `favor_previous_assigned` picks the order in which a pool's free desktops are tried:
  0 random, 1 the ones this user had before first, 2 oldest first, 3 least recently offered first,
  4 running first. Ties are broken at random, so racing logins spread over the pool.
- `power_on`: a desktop claimed for the user at this login that is not running is started.
- `start_if_stopped`: any offered desktop that is stopped or suspended is started, including a
  desktop the user already holds.
- `kiosk`: the user gets exactly one desktop, from the first kiosk assignment that has one, and the
  client is told to connect to it at once; the policy's other assignments are not used.
- `backup_pool_id`: what the primary pool cannot supply (it has no free desktop left) is taken from it.
- `prevent_release`: the user may not give the desktop back themselves (its release plan or an
  administrator does).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.cloud import PowerState
from chalicelib.domain.desktop_lifecycle import DesktopLifecycle
from chalicelib.domain.entities.policies import Policy, PoolAssignment

FAVOR_RANDOM = 0
FAVOR_PREVIOUS = 1
FAVOR_OLDEST = 2
FAVOR_LEAST_RECENTLY_OFFERED = 3
FAVOR_RUNNING = 4

STARTABLE_STATES = frozenset({PowerState.STOPPED, PowerState.SUSPENDED})
# Desktops in these power states cannot take a session, whatever their availability flag says.
UNUSABLE_POWER_STATES = frozenset({PowerState.ERROR, PowerState.BUILDING, PowerState.DELETED})

DEFAULT_PROTOCOL = "rdp"
DEFAULT_PORTS = {"rdp": 3389, "vnc": 5900, "ssh": 22, "html5": 443}


def default_port(protocol: str, options: dict[str, Any] | None = None) -> int:
    """The protocol's usual port; an html5 plan's is that of the protocol the gateway speaks to the
    desktop (`options.remote_protocol`, VNC by default), since the port is the desktop's."""
    if protocol == "html5":
        return DEFAULT_PORTS.get(str((options or {}).get("remote_protocol") or "vnc"), DEFAULT_PORTS["vnc"])
    return DEFAULT_PORTS[protocol]


STARTING = "starting"


@dataclass(frozen=True)
class DesktopFacts:
    """What the offer rules need to know about one desktop."""

    id: int
    pool_id: int | None
    name: str
    display_name: str | None
    power_state: str
    available: bool
    lifecycle: str
    assigned_user_id: int | None
    created: str = ""
    last_offered: int | None = None
    last_user_key: str | None = None
    fixed_addresses: tuple[str, ...] = ()
    floating_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssignmentTerms:
    """One pool assignment of a policy, as the offer reads it."""

    id: int
    pool_id: int
    backup_pool_id: int = 0
    offer_quantity: int = 1
    favor_previous_assigned: int = FAVOR_RANDOM
    power_on: bool = False
    start_if_stopped: bool = False
    kiosk: bool = False
    display_mode: str = "name"
    plan_protocol_id: int = 0
    prevent_release: bool = False

    @classmethod
    def of(cls, assignment: PoolAssignment) -> AssignmentTerms:
        """As the offer reads a stored assignment: a quantity below 1 offers one, no display mode the name."""
        return cls(
            id=int(assignment.id or 0),
            pool_id=int(assignment.pool_id),
            backup_pool_id=int(assignment.backup_pool_id or 0),
            offer_quantity=max(1, int(assignment.offer_quantity or 1)),
            favor_previous_assigned=int(assignment.favor_previous_assigned or 0),
            power_on=bool(assignment.power_on),
            start_if_stopped=bool(assignment.start_if_stopped),
            kiosk=bool(assignment.kiosk),
            display_mode=str(assignment.display_mode or "name"),
            plan_protocol_id=int(assignment.plan_protocol_id or 0),
            prevent_release=bool(assignment.prevent_release),
        )

    @property
    def pools(self) -> tuple[int, ...]:
        return (self.pool_id, self.backup_pool_id) if self.backup_pool_id else (self.pool_id,)


@dataclass(frozen=True)
class PolicyTerms:
    max_desktops: int = 0  # 0: no limit beyond the assignments
    single_desktop_only: bool = False
    assignments: tuple[AssignmentTerms, ...] = ()

    @classmethod
    def of(cls, policy: Policy) -> PolicyTerms:
        return cls(
            max_desktops=int(policy.max_desktops or 0),
            single_desktop_only=bool(policy.single_desktop_only),
            assignments=tuple(AssignmentTerms.of(a) for a in policy.pool_assignments),
        )

    @property
    def kiosk(self) -> bool:
        return any(a.kiosk for a in self.assignments)

    @property
    def cap(self) -> int | None:
        """How many desktops one user may be offered at once (None: no limit)."""
        if self.kiosk or self.single_desktop_only:
            return 1
        return self.max_desktops or None

    def effective_assignments(self) -> tuple[AssignmentTerms, ...]:
        """The assignments a login draws from: only the kiosk ones when there are any."""
        if self.kiosk:
            return tuple(a for a in self.assignments if a.kiosk)
        return self.assignments

    def assignment_for_pool(self, pool_id: int | None) -> AssignmentTerms | None:
        """The assignment a desktop of `pool_id` is offered under (primary pools before backups)."""
        if pool_id is None:
            return None
        for assignment in self.assignments:
            if assignment.pool_id == pool_id:
                return assignment
        for assignment in self.assignments:
            if assignment.backup_pool_id == pool_id:
                return assignment
        return None


@dataclass(frozen=True)
class ClaimNeed:
    assignment: AssignmentTerms
    count: int


def is_usable(desktop: DesktopFacts) -> bool:
    """Whether a desktop may be shown to a user at all: active, available, in a usable power state."""
    return (desktop.lifecycle == DesktopLifecycle.ACTIVE and desktop.available
            and desktop.power_state not in UNUSABLE_POWER_STATES)


def is_claimable(desktop: DesktopFacts) -> bool:
    return desktop.assigned_user_id is None and is_usable(desktop)


def held_offer(policy: PolicyTerms, held: Iterable[DesktopFacts]) -> list[DesktopFacts]:
    """The desktops the user already holds that are offered again: the usable ones, oldest claim first,
    up to the policy's cap (a kiosk policy only offers a desktop of one of its kiosk pools)."""
    usable = [d for d in held if is_usable(d)]
    if policy.kiosk:
        kiosk_pools = {pool for a in policy.effective_assignments() for pool in a.pools}
        usable = [d for d in usable if d.pool_id in kiosk_pools]
    usable.sort(key=lambda d: (d.last_offered or 0, d.id))
    return usable if policy.cap is None else usable[: policy.cap]


def claims_needed(policy: PolicyTerms, offered_held: Sequence[DesktopFacts]) -> list[ClaimNeed]:
    """How many more desktops to claim under each assignment, in the policy's order.

    A desktop the user holds counts towards the assignment of its pool (or backup pool); the total
    never goes past the policy's cap."""
    remaining = None if policy.cap is None else max(0, policy.cap - len(offered_held))
    held_by_pool: dict[int, int] = {}
    for desktop in offered_held:
        if desktop.pool_id is not None:
            held_by_pool[desktop.pool_id] = held_by_pool.get(desktop.pool_id, 0) + 1
    needs: list[ClaimNeed] = []
    for assignment in policy.effective_assignments():
        quantity = 1 if assignment.kiosk else assignment.offer_quantity
        already = sum(held_by_pool.pop(pool, 0) for pool in assignment.pools)
        count = max(0, quantity - already)
        if remaining is not None:
            count = min(count, remaining)
            remaining -= count
        if count:
            needs.append(ClaimNeed(assignment, count))
    return needs


def order_candidates(candidates: Iterable[DesktopFacts], favor: int, user_key: str,
                     rng: random.Random | None = None) -> list[DesktopFacts]:
    """The claimable desktops of a pool in the order a login tries them."""
    rng = rng or random.Random()  # noqa: S311  # nosec B311 - spreads racing logins, not a secret
    pool = [c for c in candidates if is_claimable(c)]
    tie = {c.id: rng.random() for c in pool}
    if favor == FAVOR_PREVIOUS:
        return sorted(pool, key=lambda c: (c.last_user_key != user_key, tie[c.id]))
    if favor == FAVOR_OLDEST:
        return sorted(pool, key=lambda c: (c.created, c.id))
    if favor == FAVOR_LEAST_RECENTLY_OFFERED:
        return sorted(pool, key=lambda c: (c.last_offered or 0, tie[c.id]))
    if favor == FAVOR_RUNNING:
        rank = {PowerState.RUNNING: 0, PowerState.SUSPENDED: 1, PowerState.STOPPED: 2}
        return sorted(pool, key=lambda c: (rank.get(c.power_state, 3), tie[c.id]))
    return sorted(pool, key=lambda c: tie[c.id])


def needs_start(desktop: DesktopFacts, assignment: AssignmentTerms | None, newly_claimed: bool) -> bool:
    """Whether offering this desktop should ask the worker to start it (the login does not wait)."""
    if assignment is None or desktop.power_state not in STARTABLE_STATES:
        return False
    return assignment.start_if_stopped or (assignment.power_on and newly_claimed)


def shown_name(desktop: DesktopFacts, display_mode: str) -> str:
    if display_mode == "display_name" and desktop.display_name:
        return desktop.display_name
    return desktop.name


def address_of(desktop: DesktopFacts) -> str | None:
    """The address a client connects to: the floating IP when there is one, else the fixed address."""
    for address in (*desktop.floating_addresses, *desktop.fixed_addresses):
        if address:
            return address
    return None

