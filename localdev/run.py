"""`make run`: the whole broker on 127.0.0.1 in one process.

moto's server stands in for DynamoDB, SQS and Secrets Manager; the real OpenStack services of
`localdev/openstack` stand in for a customer's cloud (unless BROKER_OPENSTACK=external); Chalice's
local server serves the HTTP API; a timer fires every scheduled function and drains the queue into
the worker, as EventBridge and SQS would in AWS. Ctrl-C stops everything.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AWS_PORT = int(os.environ.get("BROKER_AWS_PORT", "4566"))
BROKER_PORT = int(os.environ.get("BROKER_PORT", "8000"))
TICK_SECONDS = float(os.environ.get("BROKER_LOCAL_TICK_SECONDS", "5"))
SCHEDULE_SECONDS = float(os.environ.get("BROKER_LOCAL_SCHEDULE_SECONDS", "20"))


def say(message: str) -> None:
    print(f"[broker {time.strftime('%H:%M:%S')}] {message}", flush=True)


def local_environment() -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{AWS_PORT}",
        "BROKER_STAGE": os.environ.get("BROKER_STAGE", "local"),
        "BROKER_QUEUE_NAME": f"broker-{os.environ.get('BROKER_STAGE', 'local')}-provisioning",
    }


def start_moto() -> Any:
    from localdev.aws_server import AwsServer

    return AwsServer("127.0.0.1", AWS_PORT, log_requests=False).start()


def prepare_aws(admin_password: str) -> None:
    from chalicelib.services.sessions import ensure_system_admin
    from chalicelib.settings import get_settings
    from chalicelib.store.aws import client
    from chalicelib.store.secrets import SecretStore, secret_name
    from chalicelib.store.tables import create_tables

    create_tables()
    client("sqs").create_queue(QueueName=get_settings().queue_name, Attributes={"VisibilityTimeout": "30"})
    SecretStore().put(secret_name("admin-password"), admin_password)
    ensure_system_admin(admin_password)


class Timer(threading.Thread):
    """Fires the scheduled functions and feeds the queue to the worker, like EventBridge and SQS."""

    def __init__(self, app: Any) -> None:
        super().__init__(name="local-timer", daemon=True)
        self.app = app
        self.stopping = threading.Event()
        self.last_schedule = 0.0

    def scheduled_names(self) -> list[str]:
        from chalice.app import ScheduledEventConfig

        return [s.name for s in self.app.event_sources if isinstance(s, ScheduledEventConfig)]

    def fire_schedules(self) -> None:
        from chalicelib.jobs.schedules import scheduled_event

        for name in self.scheduled_names():
            try:
                self.app.handler_map[name](scheduled_event(name), None)
            except Exception as error:  # keep the timer alive; the handler logged its own error
                say(f"scheduled {name} failed: {error}")

    def drain_queue(self) -> int:
        from chalicelib.jobs.worker import sqs_event
        from chalicelib.store.aws import client
        from chalicelib.store.queue import queue_url

        sqs = client("sqs")
        handled = 0
        while not self.stopping.is_set():
            batch = sqs.receive_message(
                QueueUrl=queue_url(), MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return handled
            for message in batch:
                try:
                    self.app.handler_map["provisioning_worker"](sqs_event(message), None)
                except Exception as error:  # left on the queue: SQS redelivers after the visibility timeout
                    say(f"worker failed on {json.loads(message['Body']).get('type')}: {error}")
                    continue
                sqs.delete_message(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"])
                handled += 1
        return handled

    def run(self) -> None:
        while not self.stopping.is_set():
            if time.monotonic() - self.last_schedule >= SCHEDULE_SECONDS:
                self.last_schedule = time.monotonic()
                self.fire_schedules()
            try:
                self.drain_queue()
            except Exception as error:
                say(f"queue drain failed: {error}")
            self.stopping.wait(TICK_SECONDS)


def start_openstack() -> bool:
    """Start the local OpenStack services unless the broker is pointed at an external cloud.
    Returns True when this process started them (and so stops them on exit)."""
    if os.environ.get("BROKER_OPENSTACK", "local") == "external":
        say("BROKER_OPENSTACK=external: not starting the local OpenStack services")
        return False
    from localdev.openstack import stack

    if stack.is_running():
        say("local OpenStack services already running: using them")
        return False
    say("installing the local OpenStack services if needed (first time: a few minutes)...")
    stack.ensure_installed()
    say("starting Keystone, Nova (fake driver), Placement, Neutron, Glance and Cinder (about 90 s)...")
    stack.start()
    return True


def main() -> int:
    os.environ.update(local_environment())
    admin_password = os.environ.get("BROKER_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    generated = "BROKER_ADMIN_PASSWORD" not in os.environ
    say(f"starting moto (DynamoDB, SQS, Secrets Manager) on http://127.0.0.1:{AWS_PORT}")
    moto = start_moto()
    prepare_aws(admin_password)

    started_openstack = False
    try:
        started_openstack = start_openstack()
        from localdev import demo

        demo_info = (
            demo.seed(admin_password) if os.environ.get("BROKER_OPENSTACK", "local") != "external" else None
        )

        from chalice.cli.factory import CLIFactory

        from app import app

        factory = CLIFactory(project_dir=str(ROOT))
        config = factory.create_config_obj(chalice_stage_name="dev")
        server = factory.create_local_server(app, config, "127.0.0.1", BROKER_PORT)
        timer = Timer(app)
        timer.start()
        http = threading.Thread(target=server.serve_forever, name="http", daemon=True)
        http.start()
        base = f"http://127.0.0.1:{BROKER_PORT}"
        print(flush=True)
        say("the broker is running:")
        print(f"  admin API      {base}/rest/v1   (OpenAPI: {base}/rest/v1/openapi.json)")
        print(f"  client API     {base}/client/v1")
        print(f"  agent API      {base}/agent/v1")
        print(f"  health         {base}/rest/v1/system/health (after session/login)")
        print(f"  AWS (moto)     http://127.0.0.1:{AWS_PORT}")
        print(
            f"  system admin   user 'admin', password '{admin_password}'"
            + ("  (generated; set BROKER_ADMIN_PASSWORD to choose)" if generated else "")
        )
        if demo_info:
            for line in demo_info:
                print(f"  {line}")
        print("  Ctrl-C stops everything.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.is_set():
                stop.wait(1)
        except KeyboardInterrupt:
            pass
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        say("stopping...")
        timer.stopping.set()
        server.shutdown()
    finally:
        if started_openstack:
            from localdev.openstack import stack

            say("stopping the local OpenStack services...")
            stack.stop()
        moto.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
