"""Secrets Manager: center and directory passwords and signing keys. Values never reach a log."""

from __future__ import annotations

import secrets as pysecrets

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.settings import get_settings
from chalicelib.store.aws import client


def secret_name(*parts: str | int) -> str:
    return get_settings().secret_prefix + "/".join(str(p) for p in parts)


class SecretStore:
    def put(self, name: str, value: str) -> None:
        sm = client("secretsmanager")
        try:
            try:
                sm.put_secret_value(SecretId=name, SecretString=value)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                sm.create_secret(Name=name, SecretString=value)
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable(f"Cannot store secret {name}: {type(error).__name__}") from error

    def get(self, name: str) -> str | None:
        try:
            return client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise ServiceUnavailable(
                f"Cannot read secret {name}: {error.response['Error']['Code']}"
            ) from error
        except BotoCoreError as error:
            raise ServiceUnavailable(f"Cannot read secret {name}: {type(error).__name__}") from error

    def delete(self, name: str) -> None:
        try:
            client("secretsmanager").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise ServiceUnavailable(f"Cannot delete secret {name}") from error

    def get_or_create_random(self, name: str, nbytes: int = 32) -> str:
        """A random key created on first use (e.g. the token signing key)."""
        existing = self.get(name)
        if existing is not None:
            return existing
        value = pysecrets.token_urlsafe(nbytes)
        try:
            client("secretsmanager").create_secret(Name=name, SecretString=value)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceExistsException":
                raise ServiceUnavailable(f"Cannot create secret {name}") from error
            return self.get(name) or value  # another process won the race: use its key
        return value

    def reachable(self) -> bool:
        """Secrets Manager answers (a missing secret is an answer too)."""
        try:
            client("secretsmanager").describe_secret(SecretId=secret_name("admin-password"))
        except ClientError as error:
            return error.response["Error"]["Code"] == "ResourceNotFoundException"
        except BotoCoreError:
            return False
        return True
