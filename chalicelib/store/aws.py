"""boto3 clients for the AWS services other than DynamoDB, created on first use and reused."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.settings import get_settings

_lock = threading.Lock()


@lru_cache(maxsize=8)
def _client(service: str, endpoint: str | None, region: str) -> Any:
    with _lock:
        return boto3.session.Session().client(
            service,
            endpoint_url=endpoint,
            region_name=region,
            config=Config(
                connect_timeout=3, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
            ),
        )


def client(service: str) -> Any:
    settings = get_settings()
    return _client(service, settings.aws_endpoint, settings.region)


def reset_clients() -> None:
    _client.cache_clear()
