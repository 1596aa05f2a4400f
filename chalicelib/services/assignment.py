"""Desktop assignment for end users: build a login's offer (or a signed-in user's new one), list,
connect, release.

An offer is the desktops the user already holds (persistent assignment), then fresh claims from the
policy's pool assignments (rules in chalicelib/domain/offer.py). A claim is a conditional write on the
desktop (chalicelib/store/claims.py), so racing logins never share a desktop; a lost race moves
on to the next candidate, and "none available" is only answered after a full pass over a fresh list of
the pool's free desktops. Every pool a login draws from gets a provisioning check through the queue,
at most one pending per pool. Starts go through the queue too: a login never waits for the cloud.
"""

from __future__ import annotations

import contextlib
import logging
import random
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain import connection, messages
from chalicelib.domain import offer as rules
from chalicelib.domain import pools as pool_rules
from chalicelib.domain.caller import Caller
from chalicelib.domain.connection import ProtocolPlan
from chalicelib.domain.entities.desktops import Desktop
from chalicelib.domain.entities.policies import Policy
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import (
    Conflict,
    InsufficientPermissions,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from chalicelib.domain.offer import AssignmentTerms, DesktopFacts, PolicyTerms
from chalicelib.services import audit, gateways, plans
from chalicelib.settings import get_settings
from chalicelib.store import stores
from chalicelib.store.claims import DesktopClaims, HolderChanged
from chalicelib.store.desktops import DesktopStore, user_key
from chalicelib.store.pending_checks import PendingChecks
from chalicelib.store.repos import AuditEvent
from chalicelib.store.transactions import StoreUnavailable

log = logging.getLogger("broker.assignment")

_claims = DesktopClaims()
_pending = PendingChecks()
_desktops = DesktopStore()

REQUERY_AFTER_LOSSES = 6  # lost races in a row before re-reading the pool's free desktops
MAX_ROUNDS = 4  # fresh reads of one pool per login; the last one is always tried to the end
MAX_HOLDER_ROUNDS = 5  # decisions per login when other logins of the same user keep changing its holdings

NO_POLICY = "no_policy"
NONE_AVAILABLE = "none_available"


def check_pending_seconds() -> int:
    """How long a queued pool check stops others from being queued, if the worker never clears it."""
    return get_settings().pool_check_pending_seconds


def retry_after_seconds() -> int:
    return get_settings().client_retry_after_seconds


@dataclass(frozen=True)
class OfferedDesktop:
    facts: DesktopFacts
    assignment: AssignmentTerms | None
    plan: ProtocolPlan
    newly_claimed: bool
    starting: bool = False
    kiosk: bool = False

    @property
    def id(self) -> int:
        return self.facts.id

    @property
    def name(self) -> str:
        return rules.shown_name(self.facts, self.assignment.display_mode if self.assignment else "name")

    @property
    def address(self) -> str | None:
        return rules.address_of(self.facts)

    @property
    def status(self) -> str:
        return rules.STARTING if self.starting else self.facts.power_state

    @property
    def can_release(self) -> bool:
        """Whether the user may give it back themselves (the assignment's `prevent_release`)."""
        return not (self.assignment is not None and self.assignment.prevent_release)


@dataclass
class Offer:
    desktops: list[OfferedDesktop] = field(default_factory=list)
    pools_checked: list[int] = field(default_factory=list)
    empty_reason: str | None = None
    message: str | None = None
    retry_after: int | None = None

    @property
    def claimed(self) -> list[OfferedDesktop]:
        return [d for d in self.desktops if d.newly_claimed]


def facts_of(desktop: Desktop) -> DesktopFacts:
    floating = [a for a in desktop.floating_addresses if a]
    if desktop.floating_ip and desktop.floating_ip not in floating:
        floating.append(desktop.floating_ip)
    return DesktopFacts(
        id=desktop.id, pool_id=desktop.pool_id, name=desktop.name,
        display_name=desktop.display_name, power_state=desktop.power_state,
        available=desktop.available, lifecycle=desktop.lifecycle,
        assigned_user_id=desktop.assigned_user_id,
        created=desktop.created or "",
        last_offered=desktop.last_offered or None,
        last_user_key=(None if desktop.last_user_id is None
                       else user_key(desktop.tenant_id, desktop.last_user_id)),
        fixed_addresses=tuple(a for a in desktop.fixed_addresses if a),
        floating_addresses=tuple(floating),
    )


# ------------------------------------------------------------------------------------------- the offer


def build_offer(user: User, policy: Policy | None, rng: random.Random | None = None) -> Offer:
    """Offer the user's held desktops again, then claim what the policy still owes them.

    The decision reads the user's holdings consistently; each claim commits only if they are still as
    read, so logins of one user racing each other never take more than the policy allows: the loser
    reads again, sees the winner's desktop and takes no more (ARCHITECTURE.md invariant 7)."""
    tenant_id = user.tenant_id
    terms = PolicyTerms.of(policy) if policy is not None else PolicyTerms()
    claimed: set[int] = set()
    touched: list[int] = []
    offered: list[OfferedDesktop] = []
    for _ in range(MAX_HOLDER_ROUNDS):
        holdings = _claims.holdings(user)
        user = holdings.user
        again = rules.held_offer(terms, [facts_of(r) for r in holdings.desktops])
        offered = [_offered(tenant_id, d, terms.assignment_for_pool(d.pool_id), d.id in claimed, terms)
                   for d in again]
        try:
            for need in rules.claims_needed(terms, again):
                assignment = need.assignment
                taken = {d.facts.id for d in offered}
                touched.append(assignment.pool_id)
                got, user = _claim_from(user, assignment.pool_id, assignment.favor_previous_assigned,
                                        need.count, rng, taken, claimed)
                if len(got) < need.count and assignment.backup_pool_id:
                    touched.append(assignment.backup_pool_id)
                    more, user = _claim_from(user, assignment.backup_pool_id,
                                             assignment.favor_previous_assigned, need.count - len(got), rng,
                                             taken, claimed)
                    got += more
                offered += [_offered(tenant_id, d, assignment, True, terms)
                            for d in map(facts_of, _claims.get_many(tenant_id, got))]
            break
        except HolderChanged:  # another login of this user changed its holdings: decide again
            user = stores.users.find_by_login(tenant_id, user.login) or user
    result = Offer(desktops=offered, pools_checked=list(dict.fromkeys(touched)))
    for pool_id in result.pools_checked:
        request_pool_check(tenant_id, pool_id, "user login")
    for desktop in result.desktops:
        if desktop.starting:
            _queue_start(tenant_id, desktop)
    if not result.desktops:
        _explain_empty(tenant_id, result, policy, terms)
    return result


def _offered(tenant_id: int, facts: DesktopFacts, assignment: AssignmentTerms | None, newly_claimed: bool,
             terms: PolicyTerms) -> OfferedDesktop:
    plan = plans.protocol_plan(tenant_id, assignment.plan_protocol_id if assignment else 0)
    return OfferedDesktop(facts=facts, assignment=assignment, plan=plan, newly_claimed=newly_claimed,
                          starting=rules.needs_start(facts, assignment, newly_claimed), kiosk=terms.kiosk)


def _claim_from(holder: User, pool_id: int, favor: int, count: int, rng: random.Random | None,
                taken: set[int], claimed: set[int]) -> tuple[list[int], User]:
    """Claim up to `count` desktops of the pool for `holder`, trying its free desktops in the assignment's
    order; the ids claimed, and the holder as its last claim wrote it (each claim checks the version of
    the holdings the previous one left). `taken` (the ids already in this offer) grows with each claim, so
    a lagging index that still lists one of them as free can never put it in the offer twice; `claimed`
    (what this login claimed) too, at once, since HolderChanged (the user's holdings changed meanwhile,
    nothing more is claimed) may end the call before it returns."""
    tenant_id, user_id = holder.tenant_id, holder.id
    got: list[int] = []
    mine = user_key(tenant_id, user_id)
    for round_number in range(MAX_ROUNDS):
        free = [facts_of(d) for d in _claims.free_in_pool(tenant_id, pool_id) if d.id not in taken]
        candidates = rules.order_candidates(free, favor, mine, rng)
        if not candidates:
            return got, holder
        losses_in_a_row = 0
        read_again = False
        for candidate in candidates:
            written = _claims.claim(holder, candidate.id)
            if written is not None:
                holder = written
                got.append(candidate.id)
                taken.add(candidate.id)
                claimed.add(candidate.id)
                losses_in_a_row = 0
                if len(got) >= count:
                    return got, holder
                continue
            losses_in_a_row += 1
            if losses_in_a_row >= REQUERY_AFTER_LOSSES and round_number < MAX_ROUNDS - 1:
                read_again = True  # many racers on this pool: a fresh read skips what they took
                break
        if not read_again:
            return got, holder  # every desktop of a fresh list was tried
    return got, holder


def _explain_empty(tenant_id: int, offer: Offer, policy: Policy | None, terms: PolicyTerms) -> None:
    if policy is None or not terms.assignments:
        offer.empty_reason = NO_POLICY
        offer.message = "Your account has no policy that offers desktops; ask your administrator."
        return
    offer.empty_reason = NONE_AVAILABLE
    offer.retry_after = retry_after_seconds()
    if _any_provisioning(tenant_id, offer.pools_checked):
        offer.message = (f"No desktop is available right now. Provisioning of new desktops is under way; "
                         f"try again in {offer.retry_after} seconds.")
    else:
        offer.message = (f"No desktop is available right now; try again in {offer.retry_after} seconds "
                         "or ask your administrator.")


def _any_provisioning(tenant_id: int, pool_ids: list[int]) -> bool:
    try:
        pools = stores.pools.batch_get(tenant_id, pool_ids) if pool_ids else {}
    except StoreUnavailable:
        return False
    return any(pool_rules.provisioning_blocked(pool.provision, pool.broker_state) is None
               for pool in pools.values())


def request_pool_check(tenant_id: int, pool_id: int, reason: str) -> bool:
    """Queue a provisioning check unless one is already pending for the pool. Never fails the caller."""
    try:
        if not _pending.try_mark(tenant_id, pool_id, check_pending_seconds()):
            return False
    except StoreUnavailable:
        log.warning("pool %s: could not mark a pending check", pool_id, exc_info=True)
        return False
    try:
        stores.queue.send(messages.pool_check(tenant_id, pool_id, reason))
    except ServiceUnavailable:
        log.warning("pool %s: the provisioning queue is unreachable; a later login or schedule retries",
                    pool_id)
        with contextlib.suppress(StoreUnavailable):  # else the marker expires by itself
            _pending.clear(tenant_id, pool_id)
        return False
    return True


def _queue_start(tenant_id: int, desktop: OfferedDesktop) -> None:
    try:
        stores.queue.send(messages.desktop_power(tenant_id, desktop.id, "start", "offered to a user"))
    except ServiceUnavailable:
        log.warning("desktop %s: could not queue its start", desktop.id)


def claim_events(tenant_id: int, user: User, offer: Offer) -> list[AuditEvent]:
    """One `client.assigned` audit event per desktop the offer claimed (a login's or a new offer's)."""
    return [AuditEvent(tenant_id, "client.assigned", f"Desktop '{desktop.facts.name}' assigned",
                       user=user.login, pool_id=desktop.facts.pool_id, desktop_id=desktop.id,
                       details={"user_id": user.id, "starting": desktop.starting})
            for desktop in offer.claimed]


# ------------------------------------------------------------------------------- the signed-in user


def _token_policy(caller: Caller) -> Policy | None:
    """The policy chosen at login (the token carries it); None when there was none or it is gone."""
    policy_id = int(caller.extra.get("policy_id") or 0)
    return stores.policies.find(caller.tenant_id, policy_id) if policy_id else None


def _policy_terms(caller: Caller) -> PolicyTerms:
    policy = _token_policy(caller)
    return PolicyTerms.of(policy) if policy is not None else PolicyTerms()


def offer_again(caller: Caller) -> Offer:
    """The offer of a login, built again for the signed-in user (`POST /client/v1/offer`): what they hold,
    then what the login's policy still owes them. The portal calls it when nothing was available, so a
    user gets a desktop later without typing (or the portal keeping) the password. Audited like a
    login's claims: one `client.offer` event and one `client.assigned` per new claim, in one write."""
    user = _signed_in_user(caller)
    offer = build_offer(user, _token_policy(caller))
    offered = [d.id for d in offer.desktops]
    message = (f"Offer; offered desktop(s) {', '.join(map(str, offered))}" if offered
               else f"Offer; nothing offered ({offer.empty_reason})")
    event = AuditEvent(caller.tenant_id, "client.offer", message, user=caller.login, details={
        "user_id": caller.user_id, "policy_id": caller.extra.get("policy_id"), "offered": offered,
        "claimed": [d.id for d in offer.claimed], "pools_checked": offer.pools_checked})
    audit.record_many([event, *claim_events(caller.tenant_id, user, offer)])
    return offer


def _signed_in_user(caller: Caller) -> User:
    user = stores.users.find_by_login(caller.tenant_id, caller.login)
    if user is None or user.id != caller.user_id:  # deleted since the token was checked
        raise Unauthorized("This session has ended; log in again")
    return user


def current_desktops(caller: Caller) -> list[OfferedDesktop]:
    """The desktops the user holds and may use now (no new claims; log in again for those)."""
    terms = _policy_terms(caller)
    held = [facts_of(r) for r in _claims.holdings(_signed_in_user(caller)).desktops]
    return [_offered(caller.tenant_id, d, terms.assignment_for_pool(d.pool_id), False, terms)
            for d in rules.held_offer(terms, held)]


def _held_desktop(caller: Caller, desktop_id: int) -> Desktop:
    desktop = _desktops.find(caller.tenant_id, desktop_id)
    if desktop is None or desktop.assigned_user_id is None or desktop.assigned_user_id != caller.user_id:
        raise NotFound(f"Desktop {desktop_id} is not assigned to you")
    return desktop


@dataclass(frozen=True)
class ConnectionDetails:
    desktop_id: int
    desktop_name: str
    protocol: str
    host: str
    port: int
    username: str
    options: dict
    rdp_file: str | None = None
    rdp_filename: str | None = None
    url: str | None = None
    url_expires_at: int | None = None  # html5: the url opens the desktop until then (epoch seconds)


def connect(caller: Caller, desktop_id: int) -> ConnectionDetails:
    """How the client reaches one of the user's desktops, from its assignment's protocol plan."""
    held = _held_desktop(caller, desktop_id)
    facts = facts_of(held)
    if not rules.is_usable(facts):
        raise Conflict(f"Desktop {desktop_id} is not available right now; try again later")
    address = rules.address_of(facts)
    if address is None:
        raise Conflict(f"Desktop {desktop_id} has no network address yet; try again shortly")
    terms = _policy_terms(caller)
    desktop = _offered(caller.tenant_id, facts, terms.assignment_for_pool(facts.pool_id), False, terms)
    plan = desktop.plan
    details = ConnectionDetails(desktop_id=desktop_id, desktop_name=desktop.name, protocol=plan.protocol,
                                host=address, port=plan.port, username=caller.login,
                                options=dict(plan.options))
    audited: dict[str, Any] = {"protocol": plan.protocol}
    if plan.protocol == "rdp":
        rdp_file = connection.render_rdp(address, plan.port, caller.login, plan.options)
        details = replace(details, rdp_file=rdp_file, rdp_filename=connection.rdp_filename(desktop.name))
    elif plan.protocol == "html5":  # a signed link through the plan's gateway (services/gateways.py)
        link = gateways.link_for(caller.tenant_id, plan, desktop_id=desktop_id, desktop_name=desktop.name,
                                 host=address, user=caller.login)
        details = replace(details, url=link.url, url_expires_at=link.expires_at)
        audited.update(gateway_id=link.gateway_id, token_id=link.token_id)
    if desktop.starting:
        _queue_start(caller.tenant_id, desktop)
    audit.record(caller.tenant_id, "client.connect", f"Connection to desktop '{held.name}' requested",
                 user=caller.login, pool_id=facts.pool_id, desktop_id=desktop_id,
                 details={k: v for k, v in audited.items() if v is not None})
    return details


def release(caller: Caller, desktop_id: int) -> Desktop:
    """Give a desktop back: it becomes free for others (the previous user is remembered). Refused (403)
    when the desktop's pool assignment says `prevent_release`."""
    terms = _policy_terms(caller)
    if any(a.prevent_release for a in terms.assignments):  # else no need to read the desktop first
        held = facts_of(_held_desktop(caller, desktop_id))
        assignment = terms.assignment_for_pool(held.pool_id)
        if assignment is not None and assignment.prevent_release:
            raise InsufficientPermissions(f"Desktop {desktop_id} cannot be released by its user; "
                                          "ask your administrator")
    released = _release(_signed_in_user(caller), desktop_id, by=caller.login)
    if released is None:
        raise NotFound(f"Desktop {desktop_id} is not assigned to you")
    return released


def release_everything(user: User) -> list[int]:
    """Release every desktop the user holds (its account is going away); the ids released."""
    released = []
    for desktop in _claims.holdings(user).desktops:
        if _release(user, desktop.id, by=None) is not None:
            released.append(desktop.id)
    return released


def _release(user: User, desktop_id: int, by: str | None) -> Desktop | None:
    """The user's desktop back to its pool, by the one release (services/releases.py)."""
    from chalicelib.services import releases  # the plans' code loads on a release, not on every login

    return releases.release_held(user, desktop_id, reason="released by its user" if by else "user deleted",
                                 by=by or user.login, event="client.release")
