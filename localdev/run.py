"""`make run`: the whole broker on 127.0.0.1 in one process.

moto's server stands in for DynamoDB, SQS and Secrets Manager; the real OpenStack services of
`localdev/openstack` stand in for a customer's cloud (unless BROKER_OPENSTACK=external); waitress serves
the HTTP API through chalice.local's API Gateway emulation (`localdev/http_server.py`); a timer fires every
scheduled function and drains the queue into the worker, as EventBridge and SQS would in AWS; a live
desktop on loopback behind a local noVNC gateway (`localdev/live_demo.py`, unless BROKER_LIVE_DESKTOP=off).
Ctrl-C or SIGTERM (a process manager's stop) stops everything, the local OpenStack included when this
process started it, at any moment: while starting too.
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


def openstack_to_start() -> bool:
    """True when this process must start the local OpenStack services (and so stop them on exit)."""
    if os.environ.get("BROKER_OPENSTACK", "local") == "external":
        say("BROKER_OPENSTACK=external: not starting the local OpenStack services")
        return False
    from localdev.openstack import stack

    if stack.is_running():
        say("local OpenStack services already running: using them")
        return False
    return True


def start_openstack() -> bool:
    """Install and start the local OpenStack services. False when someone else started them meanwhile."""
    from localdev.openstack import stack

    say("installing the local OpenStack services if needed (first time: a few minutes)...")
    stack.ensure_installed()
    say("starting Keystone, Nova (fake driver), Placement, Neutron, Glance and Cinder (about 90 s)...")
    return stack.start()


def interrupt(signum: int, frame: Any) -> None:
    """SIGTERM ends the process the way Ctrl-C does, wherever it is (starting, running)."""
    raise KeyboardInterrupt


def main() -> int:
    handlers = {signal.SIGTERM: interrupt, signal.SIGINT: signal.default_int_handler}
    previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}
    try:
        run()
    except KeyboardInterrupt:
        pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


def run() -> None:
    """Start everything, serve until Ctrl-C or SIGTERM, stop everything this process started."""
    os.environ.update(local_environment())
    admin_password = os.environ.get("BROKER_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    generated = "BROKER_ADMIN_PASSWORD" not in os.environ
    external = os.environ.get("BROKER_OPENSTACK", "local") == "external"
    say(f"starting moto (DynamoDB, SQS, Secrets Manager) on http://127.0.0.1:{AWS_PORT}")
    moto = start_moto()
    server: Any = None
    timer: Timer | None = None
    stop_openstack = False
    from localdev.live_demo import LiveDemo

    live = LiveDemo()  # the live desktop and its gateway (localdev/live_demo.py)
    try:
        prepare_aws(admin_password)
        if openstack_to_start():
            from localdev.openstack.stack import StackRefused

            # Set before starting: an interrupted or failed start leaves daemons behind, which stop() ends.
            stop_openstack = True
            try:
                stop_openstack = start_openstack()
            except StackRefused:  # nothing started: what runs there or holds the ports is someone else's
                stop_openstack = False
                raise
        from localdev import demo

        demo_info = demo.seed(admin_password) if not external else None
        if LiveDemo.wanted():
            say("starting the live desktop (Xvfb, x11vnc) and its noVNC gateway (websockify) on 127.0.0.1")
            demo_info = [*(demo_info or []), *live.start(admin_password)]

        from app import app
        from localdev.http_server import BrokerHttpServer
        from localdev.web_files import WEB_DIST

        timer = Timer(app)
        timer.start()
        # --- the portal (docs/portal.md): web/dist, built by `make web`, on the API's origin ---
        server = BrokerHttpServer(app, "127.0.0.1", BROKER_PORT, portal=WEB_DIST).start()
        base = server.url
        print(flush=True)
        say("the broker is running:")
        print(f"  portal         {base}/   (end users sign in here)"
              + ("" if (WEB_DIST / "index.html").is_file() else "  (not built: run `make web`)"))
        # --- end of the portal's part ---
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
        while True:  # until Ctrl-C or SIGTERM raises KeyboardInterrupt here
            time.sleep(3600)
    finally:
        # A second Ctrl-C or SIGTERM must not cut the shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("stopping...")
        if server is not None:
            server.stop()
        if timer is not None:  # let a scheduled function or a message in hand finish before moto goes
            timer.stopping.set()
            timer.join(timeout=60)
        live.stop()
        if stop_openstack:
            from localdev.openstack import stack

            say("stopping the local OpenStack services...")
            stack.stop()
        moto.stop()
        say("stopped")


if __name__ == "__main__":
    raise SystemExit(main())
