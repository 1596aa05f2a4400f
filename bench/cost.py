"""The monthly AWS bill of an idle installation: 100 pools of 100 desktops (10 centers of 1,000), nobody
logging in, at the shipped schedules (chalicelib/jobs/schedules.py: pool_stats, center scans and the
lifecycle timers every minute, pool_history_stats every 5 minutes; a center's poll interval of 5 minutes
and a pool's history interval of 15, their defaults).

How: the installation is seeded in moto with the in-memory cloud behind its centers, one cycle of every
schedule is run to reach the steady state, then each kind of run is measured once, as AWS would invoke
it (the app's handler with an EventBridge event; each queued message handed to the worker's handler as
the SQS trigger does, one message per invocation): Lambda invocations and their duration, DynamoDB read
and write request units (from the size of every item read or written, by DynamoDB's rounding rules),
SQS requests, Secrets Manager calls. The month is the sum of each kind times how often the schedules run
it. Prices are the constants below (docs/bench.md has them with their date).
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

# us-east-1, on-demand, as published by AWS; set 2026-12-06 (docs/bench.md, "Prices").
PRICES_AS_OF = "2026-12-06"
DYNAMODB_PER_MILLION_READ_UNITS = 0.125  # on-demand, since the 2024-11-01 reduction
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625
DYNAMODB_PER_GB_MONTH = 0.25  # storage, Standard table class (the first 25 GB are free)
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_PER_GB_SECOND = 0.0000166667  # x86_64, Chalice's default architecture
SQS_PER_MILLION_REQUESTS = 0.40  # standard queue; a request carries up to 64 KB
EVENTBRIDGE_PER_MILLION_SCHEDULED_EVENTS = 0.0  # events of scheduled rules are AWS events: free
SECRETS_MANAGER_PER_10K_CALLS = 0.05
SECRETS_MANAGER_PER_SECRET_MONTH = 0.40

MINUTES_PER_MONTH = 730 * 60
# The Lambda service long-polls an SQS event source with five connections, each a ReceiveMessage of up
# to 20 s when the queue is empty: 15 requests a minute however idle the queue.
SQS_IDLE_POLLS_PER_MINUTE = 5 * 3
SCHEDULE_MEMORY_MB = 512  # .chalice/config.json
WORKER_MEMORY_MB = 1024
MEMORY_MB = {"provisioning_worker": WORKER_MEMORY_MB}  # the schedules: SCHEDULE_MEMORY_MB
# Billed duration of a warm invocation, modelled from what it sends (moto in this process says nothing
# about DynamoDB's latency): the handler's own work, plus each AWS request from inside the region
# (DynamoDB answers in single-digit milliseconds; SQS and Secrets Manager take about as long).
HANDLER_MS = 10
AWS_REQUEST_MS = 8

CENTERS = 10
POOLS = 100
DESKTOPS_PER_POOL = 100
POLL_INTERVAL_MINUTES = 5  # a center's default
HISTORY_INTERVAL_MINUTES = 15  # a pool's default pool_history_interval


# --- DynamoDB request units, from item sizes ------------------------------------------------------------

def _value_size(value: dict[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(base64.b64decode(content)) if isinstance(content, str) else len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) for k, v in content.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in content)
    return sum(len(str(member)) for member in content)  # sets


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in (item or {}).items())


def _read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def request_units(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> tuple[float, float]:
    """(read units, write units) one request consumed. Writes to indexed tables also write their
    indexes; the broker's idle cycle writes no indexed item, so index writes are not added."""
    if operation == "GetItem":
        return _read_units(item_size(parsed.get("Item")), bool(params.get("ConsistentRead"))), 0
    if operation == "BatchGetItem":
        reads = 0.0
        for table, items in parsed.get("Responses", {}).items():
            consistent = bool(params.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
            reads += sum(_read_units(item_size(item), consistent) for item in items)
        return reads, 0
    if operation in ("Query", "Scan"):
        items = parsed.get("Items", [])
        size = sum(item_size(item) for item in items)
        scanned, returned = int(parsed.get("ScannedCount", len(items))), len(items)
        if returned and scanned > returned:  # a filter reads what it drops too
            size = size * scanned // returned
        consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
        return _read_units(size, consistent), 0
    if operation == "PutItem":
        return 0, _write_units(item_size(params.get("Item")))
    if operation == "UpdateItem":
        return 0, _write_units(item_size(parsed.get("Attributes")))
    if operation == "DeleteItem":
        return 0, 1
    if operation == "BatchWriteItem":
        return 0, sum(_write_units(item_size(request.get("PutRequest", {}).get("Item")))
                      for requests in params.get("RequestItems", {}).values() for request in requests)
    if operation == "TransactWriteItems":
        return 0, 2 * sum(_write_units(item_size(next(iter(entry.values())).get("Item")))
                          for entry in params.get("TransactItems", []))
    return 0, 0


# --- what one run uses ---------------------------------------------------------------------------------

@dataclass
class Usage:
    invocations: Counter[str] = field(default_factory=Counter)
    aws_requests: Counter[str] = field(default_factory=Counter)  # sent from inside each function
    gb_seconds: float = 0.0  # as measured here (moto in process): an upper bound
    read_units: float = 0.0
    write_units: float = 0.0
    dynamodb_requests: Counter[str] = field(default_factory=Counter)
    sqs_requests: int = 0
    messages: int = 0
    secrets_calls: int = 0

    def times(self, factor: float) -> Usage:
        def scaled(counter: Counter[str]) -> Counter[str]:
            return Counter({k: v * factor for k, v in counter.items()})

        return Usage(scaled(self.invocations), scaled(self.aws_requests), self.gb_seconds * factor,
                     self.read_units * factor, self.write_units * factor, scaled(self.dynamodb_requests),
                     int(self.sqs_requests * factor), int(self.messages * factor),
                     int(self.secrets_calls * factor))

    def plus(self, other: Usage) -> Usage:
        return Usage(self.invocations + other.invocations, self.aws_requests + other.aws_requests,
                     self.gb_seconds + other.gb_seconds, self.read_units + other.read_units,
                     self.write_units + other.write_units, self.dynamodb_requests + other.dynamodb_requests,
                     self.sqs_requests + other.sqs_requests, self.messages + other.messages,
                     self.secrets_calls + other.secrets_calls)

    def modelled_gb_seconds(self) -> float:
        """Billed GB-seconds of the warm invocations, by the model of HANDLER_MS and AWS_REQUEST_MS."""
        return sum((self.invocations[name] * HANDLER_MS + self.aws_requests[name] * AWS_REQUEST_MS) / 1000
                   * MEMORY_MB.get(name, SCHEDULE_MEMORY_MB) / 1024 for name in self.invocations)


class Meter:
    """Counts what the AWS clients of this process send, from every thread, while `recording`."""

    def __init__(self) -> None:
        self.usage = Usage()
        self._lock = threading.Lock()
        self._on = False
        self._function = ""  # the function being invoked (one at a time)

    def install(self) -> None:
        from chalicelib.store.aws import client
        from chalicelib.store.binding import dynamodb_client

        dynamo = dynamodb_client().meta.events
        dynamo.register("before-parameter-build.dynamodb", self._remember, unique_id="bench-cost-params")
        dynamo.register("after-call.dynamodb", self._dynamodb, unique_id="bench-cost-dynamodb")
        client("sqs").meta.events.register("before-call.sqs", self._sqs, unique_id="bench-cost-sqs")
        client("secretsmanager").meta.events.register("before-call.secretsmanager", self._secrets,
                                                      unique_id="bench-cost-secrets")

    @contextmanager
    def recording(self) -> Iterator[Usage]:
        self.usage, self._on = Usage(), True
        try:
            yield self.usage
        finally:
            self._on = False

    @staticmethod
    def _remember(params: Any = None, context: Any = None, **_: Any) -> None:
        if isinstance(context, dict):
            context["bench_params"] = params

    def _dynamodb(self, model: Any = None, parsed: Any = None, context: Any = None, **_: Any) -> None:
        if not self._on:
            return
        operation = getattr(model, "name", "?")
        params = (context or {}).get("bench_params") or {}
        reads, writes = request_units(operation, params, parsed or {})
        with self._lock:
            self.usage.dynamodb_requests[operation] += 1
            self.usage.aws_requests[self._function] += 1
            self.usage.read_units += reads
            self.usage.write_units += writes

    def _sqs(self, model: Any = None, **_: Any) -> None:
        if self._on:
            with self._lock:
                self.usage.aws_requests[self._function] += 1
                self.usage.messages += getattr(model, "name", "") == "SendMessage"

    def _secrets(self, **_: Any) -> None:
        if self._on:
            with self._lock:
                self.usage.aws_requests[self._function] += 1
                self.usage.secrets_calls += 1

    def invoke(self, name: str, handler: Callable[[Any, Any], Any], event: Any) -> None:
        self._function = name
        started = time.perf_counter()
        handler(event, None)
        milliseconds = math.ceil((time.perf_counter() - started) * 1000)  # billed by the millisecond
        with self._lock:
            self.usage.invocations[name] += 1
            self.usage.gb_seconds += milliseconds / 1000 * MEMORY_MB.get(name, SCHEDULE_MEMORY_MB) / 1024


def _run(meter: Meter, rule: str) -> None:
    """One scheduled run, then every message it queued, each in an invocation of the worker (the
    Lambda's poller receives it and deletes it: two more SQS requests per message)."""
    from app import app
    from chalicelib.jobs.schedules import scheduled_event
    from chalicelib.jobs.worker import sqs_event
    from chalicelib.store.aws import client
    from chalicelib.store.queue import queue_url

    meter.invoke(rule, app.handler_map[rule], scheduled_event(rule))
    sqs = client("sqs")
    was_on, meter._on = meter._on, False  # the bench's own receive/delete are the poller's: counted below
    while batch := sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"])
            meter._on = was_on
            meter.invoke("provisioning_worker", app.handler_map["provisioning_worker"], sqs_event(message))
            meter._on = False
    meter._on = was_on


def _make_all_due(installation: Any) -> None:
    """Every center's poll and every pool's history sample due now (as after their intervals passed)."""
    from chalicelib.store import stores
    from chalicelib.store.desktops import set_pool_side_state

    for center_id in installation.center_ids:
        center = stores.centers.get(installation.tenant_id, center_id)
        stores.centers.update(center, replace(center, last_scan="2000-01-01T00:00:00Z"))
    for pool_id in installation.pool_ids:
        pool = stores.pools.get(installation.tenant_id, pool_id)
        set_pool_side_state(pool, broker_state={**(pool.broker_state or {}), "history_sampled_at": 0})


def _measure(meter: Meter, rule: str) -> Usage:
    with meter.recording() as usage:
        _run(meter, rule)
    usage.sqs_requests = 3 * usage.messages  # send, the poller's receive, its delete
    return usage


def run_idle_cost_bench(centers: int = CENTERS, pools: int = POOLS,
                        desktops_per_pool: int = DESKTOPS_PER_POOL) -> dict[str, Any]:
    from tests.fakes.cloud import InMemoryCloud
    from tests.fixtures.aws import aws_stack_context

    with aws_stack_context():
        from bench.seed import seed_installation
        from chalicelib.clouds import use_cloud_factory
        from chalicelib.store.aws import client
        from chalicelib.store.queue import queue_url

        clouds: dict[str, InMemoryCloud] = {}

        def cloud_of(project: str) -> InMemoryCloud:
            return clouds.setdefault(project, InMemoryCloud())

        use_cloud_factory(lambda access: cloud_of(access.project))
        try:
            installation = seed_installation(pools=pools, desktops_per_pool=desktops_per_pool,
                                             centers=centers, provisioning=True, cloud_of=cloud_of)
            client("sqs").purge_queue(QueueUrl=queue_url())
            meter = Meter()
            meter.install()
            rules = ("pool_stats_job", "pool_history_stats_job", "center_scan_job", "lifecycle_timers_job")
            for rule in rules:  # the first cycle: inventories read, scans settle, history sampled
                _run(meter, rule)
            _make_all_due(installation)
            due = {rule: _measure(meter, rule) for rule in rules}  # every center polled, every pool sampled
            idle = {rule: _measure(meter, rule) for rule in ("pool_history_stats_job", "center_scan_job")}
        finally:
            use_cloud_factory(None)
    month = _month(due, idle)
    return _figures(month, centers, pools, desktops_per_pool, due)


def _month(due: dict[str, Usage], idle: dict[str, Usage]) -> Usage:
    """Each kind of run times how often the shipped schedules make it in a month."""
    history_runs = MINUTES_PER_MONTH / 5
    history_sampling = history_runs * 5 / HISTORY_INTERVAL_MINUTES
    scan_runs_due = MINUTES_PER_MONTH / POLL_INTERVAL_MINUTES
    total = due["pool_stats_job"].times(MINUTES_PER_MONTH)
    total = total.plus(due["lifecycle_timers_job"].times(MINUTES_PER_MONTH))
    total = total.plus(due["pool_history_stats_job"].times(history_sampling))
    total = total.plus(idle["pool_history_stats_job"].times(history_runs - history_sampling))
    total = total.plus(due["center_scan_job"].times(scan_runs_due))
    total = total.plus(idle["center_scan_job"].times(MINUTES_PER_MONTH - scan_runs_due))
    total.sqs_requests += int(SQS_IDLE_POLLS_PER_MINUTE * MINUTES_PER_MONTH)
    return total


def _figures(month: Usage, centers: int, pools: int, desktops_per_pool: int,
             due: dict[str, Usage]) -> dict[str, Any]:
    scheduled = sum(v for k, v in month.invocations.items() if k != "provisioning_worker")
    invocations = sum(month.invocations.values())
    cost = {
        "dynamodb": month.read_units / 1e6 * DYNAMODB_PER_MILLION_READ_UNITS
        + month.write_units / 1e6 * DYNAMODB_PER_MILLION_WRITE_UNITS,
        "lambda": invocations / 1e6 * LAMBDA_PER_MILLION_REQUESTS
        + month.modelled_gb_seconds() * LAMBDA_PER_GB_SECOND,
        "sqs": month.sqs_requests / 1e6 * SQS_PER_MILLION_REQUESTS,
        "eventbridge": scheduled / 1e6 * EVENTBRIDGE_PER_MILLION_SCHEDULED_EVENTS,
        "secrets_manager": month.secrets_calls / 1e4 * SECRETS_MANAGER_PER_10K_CALLS
        + (centers + 1) * SECRETS_MANAGER_PER_SECRET_MONTH,  # the centers' passwords and the signing key
    }
    per_run = {rule: {"dynamodb_requests": sum(u.dynamodb_requests.values()),
                      "read_units": round(u.read_units, 1), "write_units": round(u.write_units, 1),
                      "messages": u.messages, "invocations": sum(u.invocations.values())}
               for rule, u in due.items()}
    return {
        "idle_cost_installation": f"{centers} centers, {pools} pools x {desktops_per_pool} desktops",
        "idle_cost_prices_as_of": PRICES_AS_OF,
        "idle_cost_month_usd": round(sum(cost.values()), 2),
        **{f"idle_cost_{service}_usd": round(value, 2) for service, value in cost.items()},
        "idle_lambda_invocations_per_month": round(invocations),
        "idle_lambda_gb_seconds_per_month": round(month.modelled_gb_seconds()),
        "idle_lambda_gb_seconds_measured_in_moto": round(month.gb_seconds),
        "idle_dynamodb_read_units_per_month": round(month.read_units),
        "idle_dynamodb_write_units_per_month": round(month.write_units),
        "idle_sqs_requests_per_month": month.sqs_requests,
        "idle_scheduled_events_per_month": round(scheduled),
        "idle_secrets_manager_calls_per_month": month.secrets_calls,
        "idle_cost_per_run": json.loads(json.dumps(per_run)),
    }
