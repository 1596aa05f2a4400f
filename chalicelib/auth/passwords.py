"""Password hashing with argon2id (argon2-cffi). Hashes only; a password is never stored or logged.

Parameters: OWASP's recommended argon2id setting (19 MiB of memory, 2 passes, 1 lane), which costs about
23 ms of CPU here against about 200 ms for argon2-cffi's default profile (64 MiB, 3 passes, 4 lanes):
a login stays cheap on a 512 MB Lambda while a guess still costs an attacker the same memory-hard work.
Hashes made with other parameters are replaced at the user's next successful login
(chalicelib/services/local_passwords.py).
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MEMORY_KIB = 19 * 1024
PASSES = 2
LANES = 1


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=PASSES, memory_cost=MEMORY_KIB, parallelism=LANES)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches. With no stored hash a dummy hash is still checked, so an unknown
    user takes as long as a wrong password (no user enumeration by timing)."""
    try:
        return _hasher().verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters than the current ones."""
    try:
        return _hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("not-a-real-password-0")
