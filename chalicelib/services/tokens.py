"""End-user session tokens: issued at login, checked on every /client/v1 request, revoked at logout.

The signing key lives in Secrets Manager (`<prefix>token-signing-key`, created on first use) and is
cached in-process for a few minutes. Checking a token costs one GetItem (is its `jti` revoked?).
"""

from __future__ import annotations

import logging
import threading
import time

from chalicelib import clock
from chalicelib.auth import tokens as jwt_tokens
from chalicelib.auth.tokens import TokenClaims, TokenInvalid
from chalicelib.domain.caller import Caller
from chalicelib.domain.entities.users import User
from chalicelib.domain.errors import Unauthorized
from chalicelib.services.client_cache import TtlCache
from chalicelib.settings import get_settings
from chalicelib.store import stores
from chalicelib.store.client_tokens import ClientTokens
from chalicelib.store.secrets import secret_name

log = logging.getLogger("broker.tokens")

CLIENT_ROLE = "Client"
KEY_SECRET = "token-signing-key"  # noqa: S105  # nosec B105 - the name of the secret, not its value
KEY_CACHE_SECONDS = 300
KEY_REFRESH_MIN_SECONDS = 30  # after a bad signature, re-read the key at most this often (key rotation)

_keys: TtlCache[str] = TtlCache("token-signing-key", max_entries=1)
_tokens = ClientTokens()
_refresh_lock = threading.Lock()
_last_refresh = 0.0


def token_minutes() -> int:
    return get_settings().client_token_minutes


def _signing_key(refresh: bool = False) -> str:
    if refresh:
        _keys.clear()
    return _keys.get(KEY_SECRET, lambda: stores.secrets.get_or_create_random(secret_name(KEY_SECRET), 48),
                     ttl=KEY_CACHE_SECONDS)


def issue(*, tenant_id: int, user_id: int, login: str, policy_id: int | None,
          auth_server_id: int | None) -> tuple[str, TokenClaims]:
    return jwt_tokens.issue(_signing_key(), tenant_id=tenant_id, user_id=user_id, login=login,
                            policy_id=policy_id, auth_server_id=auth_server_id,
                            lifetime_seconds=token_minutes() * 60, now=clock.time())


def _read(token: str) -> TokenClaims:
    global _last_refresh
    try:
        return jwt_tokens.read(_signing_key(), token, clock.time())
    except TokenInvalid as error:
        if error.reason != "InvalidSignatureError":
            raise
        with _refresh_lock:
            if time.monotonic() - _last_refresh < KEY_REFRESH_MIN_SECONDS:
                raise
            _last_refresh = time.monotonic()
        return jwt_tokens.read(_signing_key(refresh=True), token, clock.time())


def authenticate(authorization: str | None) -> Caller:
    """The caller of a /client/v1 request, from its `Authorization: Bearer <token>` header. Besides the
    signature and expiry, the token's user must still exist as the same user (a deleted user's tokens
    end at once), be enabled, and not have had its password changed since the token was issued; the
    token must not have been revoked by a logout. One BatchGetItem reads both facts."""
    token = jwt_tokens.bearer_token(authorization)
    if token is None:
        raise Unauthorized("Missing Authorization header: send 'Bearer <token>' from /client/v1/login")
    try:
        claims = _read(token)
    except TokenInvalid as error:
        log.info("client token refused: %s", error.reason)
        raise Unauthorized("Invalid or expired token; log in again") from error
    facts = _tokens.facts(claims.tenant_id, claims.login, claims.jti)
    if facts.revoked:
        raise Unauthorized("This session has ended; log in again")
    if not user_accepts(facts.user, claims.user_id, claims.issued_at):
        raise Unauthorized("This session has ended; log in again")
    return Caller(tenant_id=claims.tenant_id, user_id=claims.user_id, login=claims.login, role=CLIENT_ROLE,
                  extra={"jti": claims.jti, "expires_at": claims.expires_at, "policy_id": claims.policy_id,
                         "auth_server_id": claims.auth_server_id})


def user_accepts(user: User | None, user_id: int, issued_at: float) -> bool:
    """Whether a token or session of user `user_id` issued at `issued_at` is still good for `user`."""
    if user is None or user.id != user_id or not user_enabled(user):
        return False
    return user.tokens_after is None or issued_at >= user.tokens_after


def user_enabled(user: User) -> bool:
    return bool(user.enabled)


def revoke(caller: Caller) -> None:
    _tokens.revoke(str(caller.extra["jti"]), int(caller.extra["expires_at"]))
