"""Logins against a broker process on loopback: logins per second with concurrent clients, p50/p95,
the broker process's CPU milliseconds per login, and DynamoDB requests per login (in process).

The broker runs in its own process (Chalice's local server, as in `make run`) in front of moto's
server; 50 local users hold one desktop each after their first login, as in the issue's figure.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.served import broker_process, local_aws

ROOT = Path(__file__).resolve().parent.parent
USERS = 50
ROUNDS = 4
CLIENTS = 8
PASSWORD = "bench-user-pw"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _seed() -> None:
    from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
    from chalicelib.schemas.admin import TenantBody, UserAdd
    from chalicelib.schemas.policies import PolicyBody, PoolAssignmentBody
    from chalicelib.schemas.pools import PoolBody
    from chalicelib.services import policies, pools, tenants, users
    from chalicelib.store.desktops import DesktopStore, PoolCounters

    system = Caller(tenant_id=SYSTEM_TENANT_ID, user_id=0, login="admin", role="Administrator")
    tenant_id = int(tenants.create_tenant(system, TenantBody(name="bench")).id)
    admin = Caller(tenant_id=tenant_id, user_id=0, login="boss", role="Administrator")
    # A pool needs an existing center for its definition: use an attribute rule instead.
    pool = pools.create_pool(
        admin,
        PoolBody.model_validate(
            {
                "name": "bench",
                "pool_definition": {
                    "restrict_by": "A",
                    "attributes": [
                        {"vm_table_field": "name", "condition_type": "bw", "text_to_match": "bench-"}
                    ],
                },
            }
        ),
    )
    policy = policies.create_policy(admin, PolicyBody(name="bench", is_default=1))
    policies.add_assignment(admin, int(policy.id), PoolAssignmentBody(pool_id=int(pool.id)))
    store = DesktopStore()
    records = [
        store.new(
            tenant_id,
            1,
            int(pool.id),
            f"bench-{n:03d}",
            display_name=f"bench {n}",
            lifecycle="active",
            available=True,
            deletable=False,
            power_state="running",
            instance_id=f"i-{n}",
            fixed_addresses=(f"198.51.100.{n + 10}",),
        )
        for n in range(USERS)
    ]
    counters = PoolCounters()
    counters.try_reserve(tenant_id, int(pool.id), None, len(records))  # counted, then written
    counters.write_reserved(records)
    for n in range(USERS):
        users.create_user(
            admin,
            UserAdd(is_local=1, user_login=f"user{n}", name=f"User {n}", password=PASSWORD, role_name="User"),
        )


def _requests_per_login() -> tuple[int, list[str]]:
    from chalicelib.services import client_login
    from chalicelib.store.metrics import count_requests

    request = client_login.LoginRequest("user0", PASSWORD, "bench")
    client_login.login(request)  # warms the process' caches; the user now holds a desktop
    with count_requests() as counted:
        client_login.login(request)
    return counted.total, counted.calls


def run_login_bench() -> dict[str, Any]:
    with local_aws("bench") as env:
        _seed()
        dynamodb_per_login, dynamodb_calls = _requests_per_login()
        with broker_process(env) as (base, pid):
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=CLIENTS)
            session.mount("http://", adapter)

            def login(n: int) -> float:
                started = time.perf_counter()
                reply = session.post(
                    f"{base}/client/v1/login",
                    timeout=60,
                    json={"user_login": f"user{n % USERS}", "password": PASSWORD, "domain": "bench"},
                )
                assert reply.status_code == 200 and reply.json()["desktops"], reply.text
                return time.perf_counter() - started

            with ThreadPoolExecutor(CLIENTS) as pool:  # first logins: each user is assigned a desktop
                list(pool.map(login, range(USERS)))
            cpu_before = _cpu_seconds(pid)
            started = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                latencies = list(pool.map(login, range(USERS * ROUNDS)))
            wall = time.perf_counter() - started
            cpu = _cpu_seconds(pid) - cpu_before
    latencies.sort()
    count = len(latencies)
    return {
        "logins_measured": count,
        "logins_per_second": round(count / wall, 1),
        "login_p50_ms": round(latencies[count // 2] * 1000, 1),
        "login_p95_ms": round(latencies[int(count * 0.95) - 1] * 1000, 1),
        "broker_cpu_ms_per_login": round(cpu * 1000 / count, 1),
        "dynamodb_requests_per_login": dynamodb_per_login,
        "dynamodb_calls_per_login": dynamodb_calls,
    }
