"""Provisioning against an in-memory cloud, with DynamoDB and SQS in moto."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.clouds import use_cloud_factory
from chalicelib.domain.caller import Caller
from chalicelib.domain.cloud import CenterAccess
from chalicelib.domain.entities.centers import Center
from chalicelib.domain.entities.pools import Pool
from chalicelib.jobs.worker import handle_message
from chalicelib.schemas.centers import CenterCreate, CenterDefinition
from chalicelib.schemas.pools import PoolBody
from chalicelib.services import centers, pools
from chalicelib.store import stores
from chalicelib.store.aws import client
from chalicelib.store.binding import dynamodb_client
from chalicelib.store.desktops import DesktopStore
from tests.fakes.cloud import InMemoryCloud
from tests.fixtures.aws import AwsStack

TENANT = 7
ADMIN = Caller(tenant_id=TENANT, user_id=1, login="boss", role="Administrator")


@dataclass
class Broker:
    aws: AwsStack
    cloud: InMemoryCloud

    def drain(self, only: set[str] | None = None, rounds: int = 20) -> list[dict[str, Any]]:
        """Deliver queued messages to the worker (delays ignored) until the queue is empty."""
        handled: list[dict[str, Any]] = []
        skipped: list[str] = []
        sqs = client("sqs")
        for _ in range(rounds):
            batch = sqs.receive_message(QueueUrl=self.aws.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                body = json.loads(message["Body"])
                if only is not None and body["type"] not in only:
                    skipped.append(message["ReceiptHandle"])  # left for a later drain
                    continue
                sqs.delete_message(QueueUrl=self.aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
                handle_message(message["Body"])
                handled.append(body)
        for receipt in skipped:
            sqs.change_message_visibility(
                QueueUrl=self.aws.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0
            )
        return handled

    def drop(self) -> None:
        """Throw away everything queued."""
        sqs = client("sqs")
        while batch := sqs.receive_message(QueueUrl=self.aws.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                sqs.delete_message(QueueUrl=self.aws.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def center(self, name: str = "lab", **settings: Any) -> Center:
        return centers.create_center(
            ADMIN,
            "openstack",
            CenterCreate(center_definition=CenterDefinition(
                name=name, vc_url="http://127.0.0.1:5000/v3", vc_datacenter="demo", vc_name="demo",
                vc_password="pw", allow_cleartext_password=1, **settings,
            )),
        )

    def pool(
        self,
        center: Center,
        threshold: int = 3,
        maximum: int = 5,
        provision: dict[str, Any] | None = None,
        name: str | None = None,
        **center_settings: Any,
    ) -> Pool:
        """A pool of `center` saved by the admin; `provision` adds pool-level provisioning settings
        (mark_unavailable, mark_deletable, provision_on_off...), the keywords go to its center part."""
        return pools.create_pool(
            ADMIN,
            PoolBody.model_validate(
                {
                    "name": name or f"pool-{threshold}-{maximum}-{center.id}",
                    "pool_definition": {"restrict_by": "C", "server_ids": [int(center.id)]},
                    "provision": {
                        "provision_on_off": 1,
                        "provision_threshold": threshold,
                        "provision_max": maximum,
                        "provision_vm_name": "vd-{SEQUENCE:3}",
                        "provision_vm_name_next_value": 1,
                        "provision_vm_display_name": "Desktop {SEQUENCE}",
                        "center": {
                            "type": "openstack",
                            "id": int(center.id),
                            "image": "cirros-fake",
                            "flavor": "m1.tiny",
                            "network": "private",
                            **center_settings,
                        },
                        **(provision or {}),
                    },
                }
            ),
        )


    def ready_pool(
        self, threshold: int = 2, maximum: int = 2, provision: dict[str, Any] | None = None,
        **center_settings: Any,
    ) -> tuple[int, list[int]]:
        """A center (its inventory read) and a pool whose desktops are built and finished, the queue
        empty: the pool's id and its desktops' ids."""
        center = self.center()
        self.drain(only={"center.check"})
        pool = self.pool(center, threshold=threshold, maximum=maximum, provision=provision, **center_settings)
        self.drain(only={"pool.check"})
        self.cloud.advance_builds()
        self.drain(only={"desktop.follow"})
        self.drop()
        return int(pool.id), sorted(int(d.id) for d in DesktopStore().of_pool(TENANT, int(pool.id)))


def run_together(
    function: Callable[[], Any], times: int = 2, timeout: float = 120
) -> tuple[list[Any], list[BaseException]]:
    """`function` on `times` threads at once: what they returned, and what they raised."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(function())
        except BaseException as error:  # handed to the test
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results, errors


@pytest.fixture
def broker(aws: AwsStack) -> Iterator[Broker]:
    cloud = InMemoryCloud()

    def opened(access: CenterAccess) -> InMemoryCloud:
        # The one cloud stands for every center's, but only a center's own settings open it.
        if not isinstance(access, CenterAccess) or not access.auth_url:
            raise AssertionError(f"a cloud opened without a center's access: {access!r}")
        return cloud

    use_cloud_factory(opened)
    try:
        yield Broker(aws, cloud)
    finally:
        use_cloud_factory(None)


@dataclass
class RequestSizes:
    """How many items each DynamoDB request of a block carried, by operation (all threads)."""

    sizes: dict[str, list[int]] = field(default_factory=dict)

    def largest(self, operation: str) -> int:
        return max(self.sizes.get(operation, [0]))

    def count(self, operation: str) -> int:
        return len(self.sizes.get(operation, []))


def _items_in(operation: str, params: dict[str, Any]) -> int:
    if operation == "TransactWriteItems":
        return len(params.get("TransactItems", []))
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params.get("RequestItems", {}).values())
    if operation == "BatchGetItem":
        return sum(len(table["Keys"]) for table in params.get("RequestItems", {}).values())
    return 1


@contextmanager
def dynamodb_request_sizes() -> Iterator[RequestSizes]:
    """Record the item count of every DynamoDB request sent inside the block (ARCHITECTURE.md
    invariant 9: 100 per transaction, 25 per batch write, 100 per batch get)."""
    tally, lock = RequestSizes(), threading.Lock()

    def record(params: Any = None, model: Any = None, **_: Any) -> None:
        operation = getattr(model, "name", "?")
        with lock:
            tally.sizes.setdefault(operation, []).append(_items_in(operation, params or {}))

    events = dynamodb_client().meta.events
    events.register("before-parameter-build.dynamodb", record, unique_id="test-request-sizes")
    try:
        yield tally
    finally:
        events.unregister("before-parameter-build.dynamodb", unique_id="test-request-sizes")


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, Any], int]]:
    """Every message the worker queues from now on, with the delay it asked for (the tests' queue drops
    delays)."""
    calls: list[tuple[dict[str, Any], int]] = []
    send = stores.queue.send

    def recording(message: dict[str, Any], delay_seconds: int = 0) -> None:
        calls.append((message, delay_seconds))
        send(message, delay_seconds)

    monkeypatch.setattr(stores.queue, "send", recording)
    return calls
