"""End-user session tokens: JWTs signed with HS256 (PyJWT). No I/O here: the key is passed in.

A token carries the tenant, the user, the login, the policy chosen at login and the authentication
server, with `iat`, `exp` and a random `jti` (the handle of a revocation at logout). Only HS256 is
accepted when reading, so a token that names another algorithm (`none`, RS256 with the key as a
public key...) is refused before its signature is even looked at.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from chalicelib import clock

ALGORITHM = "HS256"
ISSUER = "vdi-broker"
AUDIENCE = "vdi-broker-client"
MAX_TOKEN_LENGTH = 4096
CLOCK_SKEW_SECONDS = 60  # a token "issued" this far ahead of the reader's clock is still accepted
_REQUIRED = ["exp", "iat", "jti", "sub", "tid", "uid", "iss", "aud"]


class TokenInvalid(Exception):
    """The token is malformed, forged, expired or otherwise unusable; `reason` is for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TokenClaims:
    tenant_id: int
    user_id: int
    login: str
    policy_id: int
    auth_server_id: int
    issued_at: int
    expires_at: int
    jti: str


def issue(
    key: str,
    *,
    tenant_id: int,
    user_id: int,
    login: str,
    policy_id: int | None,
    auth_server_id: int | None,
    lifetime_seconds: int,
    now: float | None = None,
) -> tuple[str, TokenClaims]:
    issued = int(now if now is not None else clock.time())
    claims = TokenClaims(
        tenant_id=tenant_id,
        user_id=user_id,
        login=login,
        policy_id=int(policy_id or 0),
        auth_server_id=int(auth_server_id or 0),
        issued_at=issued,
        expires_at=issued + lifetime_seconds,
        jti=secrets.token_urlsafe(16),
    )
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": login,
        "tid": tenant_id,
        "uid": user_id,
        "pid": claims.policy_id,
        "srv": claims.auth_server_id,
        "iat": issued,
        "exp": claims.expires_at,
        "jti": claims.jti,
    }
    import jwt  # imported on first use: PyJWT pulls in `cryptography`, which admin requests never need

    return jwt.encode(payload, key, algorithm=ALGORITHM), claims


def read(key: str, token: str, now: float) -> TokenClaims:
    """The claims of a token valid at `now`; TokenInvalid otherwise (bad signature, expired, issued in
    the future, malformed...). The times are compared with `now` (the broker's clock), not PyJWT's."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid("missing or oversized token")
    import jwt  # see issue()

    try:
        payload = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                             options={"require": _REQUIRED, "verify_exp": False, "verify_iat": False})
    except jwt.PyJWTError as error:
        raise TokenInvalid(type(error).__name__) from error
    try:
        expired = int(payload["exp"]) <= now
        premature = int(payload["iat"]) > now + CLOCK_SKEW_SECONDS
    except (TypeError, ValueError) as error:
        raise TokenInvalid("claims of the wrong type") from error
    if expired:
        raise TokenInvalid("expired")
    if premature:
        raise TokenInvalid("issued in the future")
    try:
        return TokenClaims(
            tenant_id=int(payload["tid"]),
            user_id=int(payload["uid"]),
            login=str(payload["sub"]),
            policy_id=int(payload.get("pid") or 0),
            auth_server_id=int(payload.get("srv") or 0),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            jti=str(payload["jti"]),
        )
    except (TypeError, ValueError) as error:
        raise TokenInvalid("claims of the wrong type") from error


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None
