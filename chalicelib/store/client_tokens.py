"""What checking an end user's token reads: whether its `jti` was revoked (a logout) and the user as it
is now (deleted, disabled, password changed since the token was issued), in one BatchGetItem."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.entities.users import User
from chalicelib.store.binding import ensure_bound
from chalicelib.store.models import MarkerRecord, UserRecord
from chalicelib.store.repos import user_of

UNPROCESSED_ROUNDS = 5


def revoked_key(jti: str) -> str:
    return f"revoked#{jti}"


@dataclass(frozen=True)
class TokenFacts:
    revoked: bool
    user: User | None


class ClientTokens:
    def revoke(self, jti: str, expires_at: int) -> None:
        """Refuse the token from now on; the marker lasts until the token would have expired anyway."""
        ensure_bound()
        MarkerRecord(key=revoked_key(jti), until=expires_at,
                     expires_at=datetime.fromtimestamp(expires_at, UTC)).save()

    def facts(self, tenant_id: int, login: str, jti: str) -> TokenFacts:
        ensure_bound()
        users, markers = UserRecord.Meta.table_name, MarkerRecord.Meta.table_name
        request: dict[str, Any] = {
            users: {"Keys": [{"tenant_id": {"N": str(tenant_id)}, "login": {"S": login}}],
                    "ConsistentRead": True},
            markers: {"Keys": [{"key": {"S": revoked_key(jti)}}], "ConsistentRead": True},
        }
        connection = UserRecord._get_connection().connection
        user: User | None = None
        revoked = False
        for _ in range(UNPROCESSED_ROUNDS):
            answer = connection.dispatch("BatchGetItem", {"RequestItems": request})
            for item in answer.get("Responses", {}).get(users, []):
                user = user_of(UserRecord.from_raw_data(item))
            revoked = revoked or bool(answer.get("Responses", {}).get(markers))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return TokenFacts(revoked, user)
            time.sleep(0.05)
        # DynamoDB kept some keys unprocessed five times: refuse rather than guess.
        return TokenFacts(True, user)
