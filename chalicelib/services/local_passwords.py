"""Checking the password of a local user (the admin API's login and the end users' login alike).

Hashes are argon2id (chalicelib/auth/passwords.py). A check always verifies one hash, a dummy one when
the user or its hash does not exist, so the answer takes as long either way. A hash made with other
parameters than the current ones is replaced after a successful check (the password is at hand only
then), so raising or lowering the cost reaches every active user.
"""

from __future__ import annotations

import logging

from chalicelib.auth.passwords import hash_password, needs_rehash, verify_password
from chalicelib.domain.entities.users import User
from chalicelib.store import stores

log = logging.getLogger("broker.passwords")


def check(user: User | None, password: str) -> bool:
    stored = user.password_hash if user is not None else None
    if not verify_password(stored, password) or user is None or stored is None:
        return False
    if needs_rehash(stored):
        try:
            stores.users.replace_hash(user, stored, hash_password(password))
        except Exception:  # the login succeeded; the upgrade is tried again at the next one
            log.warning("password hash of user %s not upgraded this time", user.id, exc_info=True)
    return True
