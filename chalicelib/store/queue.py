"""The provisioning queue (SQS). Messages are small JSON documents; the worker is their only reader."""

from __future__ import annotations

import json
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain import messages
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.settings import get_settings
from chalicelib.store.aws import client

_lock = threading.Lock()
_queue_urls: dict[str, str] = {}


def queue_url() -> str:
    settings = get_settings()
    if settings.queue_url:
        return settings.queue_url
    with _lock:
        if settings.queue_name not in _queue_urls:
            try:
                url = client("sqs").get_queue_url(QueueName=settings.queue_name)["QueueUrl"]
            except (ClientError, BotoCoreError) as error:
                raise ServiceUnavailable(f"Queue {settings.queue_name} is not reachable") from error
            _queue_urls[settings.queue_name] = url
        return _queue_urls[settings.queue_name]


def reset_queue_cache() -> None:
    _queue_urls.clear()


class WorkQueue:
    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        scaled = round(delay_seconds * get_settings().queue_delay_factor)
        delay = max(0, min(messages.MAX_DELAY_SECONDS, scaled))
        try:
            client("sqs").send_message(
                QueueUrl=queue_url(), MessageBody=json.dumps(message), DelaySeconds=delay
            )
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable("The provisioning queue is not reachable", retry_after=5) from error

    def reachable(self) -> bool:
        try:
            client("sqs").get_queue_attributes(QueueUrl=queue_url(), AttributeNames=["QueueArn"])
        except (ClientError, BotoCoreError, ServiceUnavailable):
            return False
        return True
