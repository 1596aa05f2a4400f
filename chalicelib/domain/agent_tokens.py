"""Agent tokens: their format, when a registration token expires, and when an agent token changes hands
(pure rules; docs/agent-protocol.md, "Token lifetimes").

An agent token belongs to one *custody*: the desktop's assignment when it was issued (who holds the
desktop, since which claim). When the assignment changes (a claim, a release, another user), the next
call of the agent is answered with a new token, derived from the one it presented and a random nonce
kept on the desktop: `HMAC-SHA256(nonce, old token)`. Until the agent uses the new token once, the old
one still works and every reply offers the same new token again, so a lost reply costs nothing; the
first call with the new token completes the rotation and retires the old one. The broker stores hashes
only: knowing the nonce without the old token, or the old token without the nonce, gives nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from chalicelib.domain.token_digest import token_hash

_TOKEN = re.compile(r"^(\d{1,16})\.(\d{1,16})\.([A-Za-z0-9_-]{32,128})$")


def parse_token(token: str | None) -> tuple[int, int] | None:
    """(tenant id, desktop id) of a well-formed `<tenant>.<desktop>.<secret>` token."""
    match = _TOKEN.match(token or "")
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def same_hash(stored: Any, token: str) -> bool:
    """Whether `token` hashes to `stored`, compared in constant time."""
    return isinstance(stored, str) and hmac.compare_digest(stored, token_hash(token))


def derived_token(token: str, nonce: str) -> str:
    """The token that replaces `token` in the rotation keyed by `nonce`: same tenant and desktop."""
    prefix, _, _ = token.rpartition(".")
    digest = hmac.new(nonce.encode(), token.encode(), hashlib.sha256).digest()
    return f"{prefix}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


# ------------------------------------------------------------------------------------ registration


def registration_expired(expires_at: float | None, now: float) -> bool:
    return expires_at is None or now >= expires_at


# ------------------------------------------------------------------------------------ agent tokens


def custody(assigned_user_id: int | None, last_claimed: int | float | None) -> str:
    """The desktop's assignment as an agent token is bound to it: every claim (a new claim time) and
    every release (no user) gives another value."""
    user = "-" if assigned_user_id is None else str(int(assigned_user_id))
    return f"{user}@{int(last_claimed or 0)}"


class Presented(Enum):
    CURRENT = "current"  # the token in use
    NEXT = "next"  # the token offered by a rotation, used for the first time
    RETIRED = "retired"  # the token a completed rotation replaced: a copy is being used
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AgentTokens:
    """What a desktop keeps about its agent's tokens (`Desktop.agent_tokens`): hashes, never tokens."""

    current: str | None = None
    custody: str | None = None
    next: str | None = None
    next_custody: str | None = None
    nonce: str | None = None
    retired: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AgentTokens:
        return cls.stored(doc.get("agent_tokens"), doc.get("agent_token_hash"))

    @classmethod
    def stored(cls, stored: object, legacy: object = None) -> AgentTokens:
        """The tokens as a desktop keeps them (`agent_tokens`), or its `agent_token_hash` of before."""
        if isinstance(stored, Mapping):
            return cls(**{k: stored.get(k) for k in ("current", "custody", "next", "next_custody", "nonce",
                                                     "retired")})
        # Before rotation existed: the token is current, of no known custody (rotated at its next call).
        return cls(current=legacy if isinstance(legacy, str) else None)

    def as_doc(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}

    @classmethod
    def issued(cls, token: str, custody_now: str) -> AgentTokens:
        return cls(current=token_hash(token), custody=custody_now)

    def presented(self, token: str) -> Presented:
        if same_hash(self.current, token):
            return Presented.CURRENT
        if self.next is not None and same_hash(self.next, token):
            return Presented.NEXT
        if self.retired is not None and same_hash(self.retired, token):
            return Presented.RETIRED
        return Presented.UNKNOWN

    def settle(self, token: str, custody_now: str, fresh_nonce: str) -> tuple[AgentTokens, str | None]:
        """The tokens after a call authenticated by `token` (CURRENT or NEXT), and the token to offer in
        its reply (None: keep using the one presented). `fresh_nonce` keys a rotation begun now."""
        tokens = self
        if tokens.presented(token) is Presented.NEXT:  # the offered token is in use: the rotation is done
            tokens = AgentTokens(current=tokens.next, custody=tokens.next_custody, retired=tokens.current)
        if tokens.next is not None and tokens.nonce is not None:  # still waiting: offer the same again
            return tokens, derived_token(token, tokens.nonce)
        if tokens.custody != custody_now:
            offered = derived_token(token, fresh_nonce)
            pending = replace(tokens, next=token_hash(offered), next_custody=custody_now, nonce=fresh_nonce)
            return pending, offered
        return tokens, None
