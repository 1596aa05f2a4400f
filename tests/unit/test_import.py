"""Chalice imports `app.py` to package it, and Lambda imports it on every cold start: no network I/O,
no required environment variable, and never `openstack` (only the worker and the scan use it).
Routes load their models and services on first call, so the import builds no pydantic model either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, socket, sys

attempts = []

def refuse(name):
    def blocked(*args, **kwargs):
        attempts.append(name)
        raise OSError(f"network I/O at import time: {name}")
    return blocked

socket.socket.connect = refuse("socket.connect")
socket.socket.connect_ex = refuse("socket.connect_ex")
socket.socket.sendto = refuse("socket.sendto")
socket.create_connection = refuse("socket.create_connection")
socket.getaddrinfo = refuse("socket.getaddrinfo")
socket.gethostbyname = refuse("socket.gethostbyname")

import app

routes = sorted(app.app.routes)
print(json.dumps({
    "attempts": attempts,
    "openstack": sorted(m for m in sys.modules if m == "openstack" or m.startswith("openstack.")),
    "ldap3": "ldap3" in sys.modules,
    "deferred": sorted(m for m in sys.modules
                       if m.startswith(("chalicelib.services", "chalicelib.schemas", "chalicelib.store"))
                       or m in ("pydantic.main", "boto3", "pynamodb.models", "argon2")),
    "routes": len(routes),
    "has_pools": "/rest/v1/pools" in routes,
}))
"""


def _run(env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _bare_environment() -> dict[str, str]:
    """Nothing of ours, no AWS settings: what `chalice package` sees on a build machine."""
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ} | {"PYTHONPATH": str(ROOT)}


def test_importing_app_does_no_network_io_and_never_imports_openstack() -> None:
    outcome = _run(_bare_environment())
    assert outcome["attempts"] == [], f"network calls at import time: {outcome['attempts']}"
    assert outcome["openstack"] == [], f"the HTTP path imported {outcome['openstack']}"
    assert outcome["has_pools"] and outcome["routes"] > 10
    assert outcome["deferred"] == [], f"loaded at import instead of first use: {outcome['deferred']}"


def test_every_route_names_models_that_exist() -> None:
    """Models are named by string on the routes; each resolves to a pydantic model (or list of one)."""
    import typing

    from pydantic import BaseModel

    import app  # noqa: F401 - declares every route
    from chalicelib.api.framework import OPERATIONS

    def is_model(value: object) -> bool:
        return isinstance(value, type) and issubclass(value, BaseModel)

    for operation in OPERATIONS:
        for model in (operation.body, operation.query):
            assert model is None or is_model(model), (operation.path, model)
        response = operation.response
        if typing.get_origin(response) is list:
            (response,) = typing.get_args(response)
        assert response is None or is_model(response), (operation.path, operation.response)
    assert sum(op.body is not None for op in OPERATIONS) > 20


def test_importing_app_with_an_aws_environment_stays_offline() -> None:
    """Even with real-looking AWS settings (a Lambda's environment), nothing is contacted at import."""
    env = _bare_environment() | {
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example",
        "BROKER_STAGE": "prod",
        "AWS_ENDPOINT_URL": "http://203.0.113.1:4566",
    }
    outcome = _run(env)
    assert outcome["attempts"] == []
    assert outcome["openstack"] == []


def test_the_probe_would_notice_network_io() -> None:
    """The blocking works: code that connects at import time is caught (so the tests above mean something)."""
    code = PROBE.replace(
        "import app\n",
        "import urllib.request\ntry:\n    urllib.request.urlopen("
        "'http://203.0.113.1/', timeout=1)\nexcept OSError:\n    pass\nimport app\n",
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_bare_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1])["attempts"] != []
