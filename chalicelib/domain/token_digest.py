"""What the tables keep of a bearer token (admin session ids, agent tokens, registration tokens): its
SHA-256, so that a leaked table does not leak a live credential. The tokens are long random strings, so a
plain hash is enough (a password needs argon2id: chalicelib/auth/passwords.py)."""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
