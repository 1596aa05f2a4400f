"""Client session tokens (PyJWT HS256): claims, expiry, tampering, algorithm confusion."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from chalicelib.auth import tokens
from chalicelib.auth.tokens import TokenInvalid

KEY = "k" * 64


def issue(**overrides: object) -> tuple[str, tokens.TokenClaims]:
    values: dict = {
        "tenant_id": 3,
        "user_id": 7,
        "login": "alice",
        "policy_id": 2,
        "auth_server_id": None,
        "lifetime_seconds": 600,
        "now": 1_000_000,
    }
    values.update(overrides)
    return tokens.issue(KEY, **values)


def test_round_trip_carries_tenant_user_policy() -> None:
    token, claims = issue()
    read = tokens.read(KEY, token, now=1_000_100)
    assert read == claims
    assert (read.tenant_id, read.user_id, read.login, read.policy_id, read.auth_server_id) == (
        3,
        7,
        "alice",
        2,
        0,
    )
    assert read.expires_at == 1_000_600
    assert len(read.jti) >= 16


def test_every_token_has_its_own_jti() -> None:
    assert issue()[1].jti != issue()[1].jti


def test_expired_token_is_refused() -> None:
    token, _ = issue()
    with pytest.raises(TokenInvalid, match="expired"):
        tokens.read(KEY, token, now=1_000_600)


def test_a_token_issued_ahead_of_the_clock_is_refused() -> None:
    token, _ = issue(now=1_000_000 + tokens.CLOCK_SKEW_SECONDS + 1)
    with pytest.raises(TokenInvalid, match="future"):
        tokens.read(KEY, token, now=1_000_000)
    assert tokens.read(KEY, token, now=1_000_002).user_id == 7


def test_wrong_key_is_refused() -> None:
    token, _ = issue()
    with pytest.raises(TokenInvalid, match="InvalidSignatureError"):
        tokens.read("x" * 48, token, now=1_000_100)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tampered_claims_are_refused() -> None:
    token, _ = issue()
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["tid"] = 4
    with pytest.raises(TokenInvalid):
        tokens.read(KEY, f"{header}.{_b64(claims)}.{signature}", now=1_000_100)


def test_alg_none_is_refused() -> None:
    payload = {
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": "alice",
        "tid": 3,
        "uid": 7,
        "iat": 1_000_000,
        "exp": 9_999_999_999,
        "jti": "abc",
    }
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}."
    with pytest.raises(TokenInvalid):
        tokens.read(KEY, forged, now=1_000_100)


def test_other_algorithm_with_the_same_key_is_refused() -> None:
    payload = {
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": "alice",
        "tid": 3,
        "uid": 7,
        "iat": 1,
        "exp": 9_999_999_999,
        "jti": "abc",
    }
    forged = jwt.encode(payload, KEY, algorithm="HS512")
    with pytest.raises(TokenInvalid):
        tokens.read(KEY, forged, now=1_000_100)


@pytest.mark.parametrize("missing", ["tid", "uid", "exp", "jti", "aud", "iss"])
def test_required_claims(missing: str) -> None:
    payload = {
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "sub": "alice",
        "tid": 3,
        "uid": 7,
        "iat": 1,
        "exp": 9_999_999_999,
        "jti": "abc",
    }
    payload.pop(missing)
    with pytest.raises(TokenInvalid):
        tokens.read(KEY, jwt.encode(payload, KEY, algorithm="HS256"), now=1_000_100)


def test_another_audience_is_refused() -> None:
    payload = {
        "iss": tokens.ISSUER,
        "aud": "admin",
        "sub": "alice",
        "tid": 3,
        "uid": 7,
        "iat": 1,
        "exp": 9_999_999_999,
        "jti": "abc",
    }
    with pytest.raises(TokenInvalid):
        tokens.read(KEY, jwt.encode(payload, KEY, algorithm="HS256"), now=1_000_100)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 5000, "Bearer"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        tokens.read(KEY, garbage, now=1_000_100)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("abc", None),
        (None, None),
        ("Bearer ", None),
    ],
)
def test_bearer_header(header: str | None, expected: str | None) -> None:
    assert tokens.bearer_token(header) == expected
