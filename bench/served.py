"""The broker as the HTTP benches meet it: moto's server on loopback with this process pointed at it
(fresh tables and queue), and the broker in a process of its own served as `make run` serves it
(`python -m localdev.http_server`: waitress, the API and the portal on one origin)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def local_aws(stage: str) -> Iterator[dict[str, str]]:
    """moto's server on a free port; this process's environment points at it (restored afterwards) with
    the stage's tables and queue created. Yields the environment a broker process needs."""
    from localdev.aws_server import AwsServer
    from tests.fixtures.aws import TEST_ENV, reset_broker_caches

    aws = AwsServer("127.0.0.1", free_port(), log_requests=False).start()
    env = {**os.environ, **TEST_ENV, "AWS_ENDPOINT_URL": aws.url, "BROKER_STAGE": stage,
           "BROKER_QUEUE_NAME": f"broker-{stage}-provisioning", "BROKER_LOG_LEVEL": "WARNING"}
    saved = dict(os.environ)
    os.environ.update(env)
    reset_broker_caches()
    try:
        from chalicelib.store.aws import client
        from chalicelib.store.tables import create_tables

        create_tables()
        client("sqs").create_queue(QueueName=env["BROKER_QUEUE_NAME"])
        yield env
    finally:
        aws.stop()
        os.environ.clear()
        os.environ.update(saved)
        reset_broker_caches()


@contextmanager
def broker_process(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """The broker served in a process of its own; yields its base URL and process id once it answers."""
    port = free_port()
    broker = subprocess.Popen([sys.executable, "-m", "localdev.http_server", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # until it answers (a loaded machine may take a while to start it)
            try:
                requests.get(f"{base}/rest/v1/openapi.json", timeout=60)
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield base, broker.pid
    finally:
        broker.terminate()
        broker.wait(timeout=10)
