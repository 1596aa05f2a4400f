"""The provisioning worker: the only consumer of the queue, and the only code that creates instances.

Each message type has one handler, in the table `HANDLERS` of `jobs/handlers.py`, which is imported
with the first message rather than with the app: the HTTP handler module never loads the services
that create instances. A message of an unknown type is logged and dropped rather than retried forever.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.settings import read_settings

if TYPE_CHECKING:
    from chalicelib.jobs.handlers import MessageHandler

log = logging.getLogger("broker.worker")

blueprint = Blueprint(__name__)

# Chalice needs the queue's name when it packages the app; each stage's config sets it.
QUEUE_NAME = read_settings().queue_name


def handler_for(message_type: str) -> MessageHandler | None:
    from chalicelib.jobs.handlers import HANDLERS  # with the first message: the services behind them

    return HANDLERS.get(message_type)


def handle_message(body: str) -> None:
    """Run one message's handler. Raising makes SQS deliver it again (with the queue's backoff)."""
    try:
        message = json.loads(body)
    except ValueError:
        log.error("dropping a message that is not JSON")
        return
    handler = handler_for(str(message.get("type", ""))) if isinstance(message, dict) else None
    if handler is None:
        log.error(
            "dropping a message of unknown type %r",
            message.get("type") if isinstance(message, dict) else None,
        )
        return
    handler(message)


@blueprint.on_sqs_message(queue=QUEUE_NAME, batch_size=1)
def provisioning_worker(event: Any) -> None:
    for record in event:
        handle_message(record.body)


LOCAL_QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:local"


def sqs_event(message: dict[str, Any], queue_arn: str = LOCAL_QUEUE_ARN) -> dict[str, Any]:
    """What the SQS trigger hands the worker for one received message (batch size 1): the local timer of
    `make run` and the bench invoke the handler with it, as Lambda would."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        ]
    }
