"""Secrets Manager: center and directory passwords and signing keys. Values never reach a log.

When Secrets Manager fails, the caller gets a plain ServiceUnavailable: a secret's name says which
tenant and record it belongs to and how the stage lays out its secrets, so it stays in the log (with
the error code, never a value), out of every HTTP body.
"""

from __future__ import annotations

import logging
import secrets as pysecrets

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.settings import get_settings
from chalicelib.store.aws import client

log = logging.getLogger("broker.secrets")

UNAVAILABLE_MESSAGE = "The broker's secret store cannot be used right now; try again later"
RETRY_AFTER_SECONDS = 5


def secret_name(*parts: str | int) -> str:
    return get_settings().secret_prefix + "/".join(str(p) for p in parts)


def _unavailable(action: str, name: str, error: Exception) -> ServiceUnavailable:
    """Log what failed (the secret's name and the error's code) and answer without either."""
    code = error.response["Error"]["Code"] if isinstance(error, ClientError) else type(error).__name__
    log.error("secret %s: cannot %s: %s", name, action, code)
    return ServiceUnavailable(UNAVAILABLE_MESSAGE, retry_after=RETRY_AFTER_SECONDS)


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


class SecretStore:
    def put(self, name: str, value: str) -> None:
        sm = client("secretsmanager")
        try:
            try:
                sm.put_secret_value(SecretId=name, SecretString=value)
            except ClientError as error:
                if _code(error) != "ResourceNotFoundException":
                    raise
                sm.create_secret(Name=name, SecretString=value)
        except (ClientError, BotoCoreError) as error:
            raise _unavailable("store", name, error) from error

    def get(self, name: str) -> str | None:
        try:
            return client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return None
            raise _unavailable("read", name, error) from error
        except BotoCoreError as error:
            raise _unavailable("read", name, error) from error

    def delete(self, name: str) -> None:
        try:
            client("secretsmanager").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise _unavailable("delete", name, error) from error
        except BotoCoreError as error:
            raise _unavailable("delete", name, error) from error

    def get_or_create_random(self, name: str, nbytes: int = 32) -> str:
        """A random key, created on first use where no deployment made it (`make run`, the tests).
        A deployed stage has it from its deployment (settings.deployed_secrets): missing there, it
        is an outage, never something to create (the function's role may not)."""
        existing = self.get(name)
        if existing is not None:
            return existing
        if get_settings().deployed_secrets:
            log.error("secret %s is missing: the deployment creates it (infra/), the broker never does", name)
            raise ServiceUnavailable(UNAVAILABLE_MESSAGE, retry_after=RETRY_AFTER_SECONDS)
        value = pysecrets.token_urlsafe(nbytes)
        try:
            client("secretsmanager").create_secret(Name=name, SecretString=value)
        except ClientError as error:
            if _code(error) != "ResourceExistsException":
                raise _unavailable("create", name, error) from error
            return self.get(name) or value  # another process won the race: use its key
        except BotoCoreError as error:
            raise _unavailable("create", name, error) from error
        return value

    def reachable(self) -> bool:
        """Secrets Manager answers (a missing secret is an answer too)."""
        try:
            client("secretsmanager").describe_secret(SecretId=secret_name("admin-password"))
        except ClientError as error:
            return _code(error) == "ResourceNotFoundException"
        except BotoCoreError:
            return False
        return True
