"""`make bench`: the broker's figures, each beside its anchor, printed as one table and written to
bench/results.json. Figures only: nothing here asserts a time.

Sections (each can be skipped with BENCH_SKIP=login,provisioning,...):
- cold start: importing the HTTP handler module vs. importing chalice, boto3, pynamodb and pydantic alone;
- pool_stats: 100 pools of 100 desktops, wall time and DynamoDB requests (moto, in process);
- login: concurrent logins over HTTP against a broker process on loopback (moto server behind it),
  logins/s, p50/p95, the broker's CPU ms per login, DynamoDB requests per login;
- provisioning: a pool with a deficit of 50 against the local OpenStack (localdev/openstack), seconds
  until all 50 create requests reached Nova, OpenStack requests per desktop (token and inventory apart);
- provisioning150: the same with a deficit of 150 (the records go in bounded batches);
- idle_cost: the monthly AWS bill of an idle installation of 100 pools x 100 desktops (bench/cost.py).
- forecast: a synthetic month replayed against a flat threshold, admin-style time limits and the forecast
  (bench/forecast.py, also runnable alone);
- portal: the portal's page weight, and the time from "Sign in" to the desktop list in Debian's Chromium
  against the broker served as `make run` serves it (bench/portal.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results.json"
SKIP = {s.strip() for s in os.environ.get("BENCH_SKIP", "").split(",") if s.strip()}


def _import_seconds(statement: str, runs: int = 5) -> float:
    """Best of `runs` fresh interpreters: the time `statement` takes to import."""
    code = (
        "import time, sys; t=time.perf_counter(); " + statement + "; "
        "print(time.perf_counter()-t, int('openstack' in sys.modules))"
    )
    best = float("inf")
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        best = min(best, float(out.stdout.split()[0]))
    return best


# What a cold client login loads on top of `app` (routes load their models and services on first call).
FIRST_LOGIN_MODULES = "chalicelib.services.client_login, chalicelib.schemas.client, chalicelib.api.framework"


def bench_cold_start() -> dict[str, Any]:
    floor = _import_seconds("import chalice, boto3, pynamodb, pydantic")
    handler = _import_seconds("import app")
    first_login = _import_seconds(f"import app, {FIRST_LOGIN_MODULES}")
    code = "import sys, app; print(int('openstack' in sys.modules))"
    imported = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {
        "import_floor_seconds": round(floor, 3),
        "import_app_seconds": round(handler, 3),
        "import_time_ratio": round(handler / floor, 2),
        "first_login_import_ratio": round(first_login / floor, 2),
        "openstack_imported_on_http_path": bool(int(imported.stdout.strip())),
    }


def bench_pool_stats(pools: int = 100, desktops_per_pool: int = 100) -> dict[str, Any]:
    from tests.fixtures.aws import aws_stack_context

    with aws_stack_context():
        from bench.seed import seed_installation
        from chalicelib.services import pool_stats
        from chalicelib.store.metrics import count_requests

        seed_installation(pools=pools, desktops_per_pool=desktops_per_pool)
        started = time.perf_counter()
        with count_requests() as counted:
            done = pool_stats.run_pool_stats("bench")
        seconds = time.perf_counter() - started
        assert done == pools
        return {
            "pool_stats_pools": pools,
            "pool_stats_desktops": pools * desktops_per_pool,
            "pool_stats_seconds": round(seconds, 2),
            "pool_stats_dynamodb_requests": counted.total,
            "pool_stats_dynamodb_requests_per_pool": round(counted.total / pools, 2),
        }


def bench_login() -> dict[str, Any]:
    from bench.login import run_login_bench

    return run_login_bench()


def bench_portal() -> dict[str, Any]:
    from bench.portal import run_portal_bench

    return run_portal_bench()


def bench_provisioning() -> dict[str, Any]:
    from bench.provisioning import run_deficit_bench

    return run_deficit_bench(50)


def bench_provisioning150() -> dict[str, Any]:
    from bench.provisioning import run_deficit_bench

    return run_deficit_bench(150)


def bench_idle_cost() -> dict[str, Any]:
    from bench.cost import run_idle_cost_bench

    return run_idle_cost_bench()


def bench_forecast() -> dict[str, Any]:
    from bench.forecast import figures

    return figures()


SECTIONS: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    ("cold_start", bench_cold_start),
    ("pool_stats", bench_pool_stats),
    ("login", bench_login),
    ("provisioning", bench_provisioning),
    ("provisioning150", bench_provisioning150),
    ("idle_cost", bench_idle_cost),
    ("portal", bench_portal),
    ("forecast", bench_forecast),
]

# (key, label, anchor) in the printed order
ROWS = [
    ("logins_per_second", "logins per second (concurrent clients)", "Leostream: 5 per second per broker"),
    ("login_p50_ms", "login latency p50 (ms)", ""),
    ("login_p95_ms", "login latency p95 (ms)", ""),
    ("broker_cpu_ms_per_login", "broker CPU ms per login", "argon2id included; target <= 40"),
    ("dynamodb_requests_per_login", "DynamoDB requests per login", "Leostream: 30 queries; target <= 5"),
    ("import_time_ratio", "import time of app / chalice+boto3+pynamodb+pydantic", "target <= 1.3"),
    ("first_login_import_ratio", "  same, with what a first client login loads", "deferred to first call"),
    ("openstack_imported_on_http_path", "openstack imported on the HTTP path", "must be false"),
    ("deficit50_seconds", "seconds until 50 creates reached Nova", "OpenUDS: one per 19 s; target <= 10"),
    ("deficit50_created", "  instances Nova holds after that check", "must be 50"),
    ("deficit50_nova_seconds", "  of which Nova answering them (first sent to last answered)", ""),
    ("deficit50_broker_share_seconds", "  of which the broker (before the first, after the last)", ""),
    ("deficit50_plain_sdk_seconds", "  the same 50 creates from the plain SDK, 8 at a time", "Nova's pace"),
    (
        "deficit50_openstack_requests_per_desktop",
        "OpenStack requests per desktop (beyond token/inventory)",
        "target <= 3",
    ),
    ("deficit50_openstack_token_requests", "  token requests during the check", ""),
    ("deficit50_openstack_inventory_requests", "  inventory/name-resolution requests during the check", ""),
    ("deficit150_seconds", "seconds until 150 creates reached Nova (one check)", "any size provisions"),
    ("deficit150_created", "  instances Nova holds after that check", "must be 150"),
    ("deficit150_nova_seconds", "  of which Nova answering them", ""),
    ("deficit150_broker_share_seconds", "  of which the broker", ""),
    ("deficit150_plain_sdk_seconds", "  the same 150 creates from the plain SDK, 8 at a time", "Nova's pace"),
    ("idle_cost_month_usd", "idle 100 pools x 100 desktops: AWS USD per month", "Leostream: 2-10 VMs + DB"),
    ("idle_cost_dynamodb_usd", "  DynamoDB (request units)", ""),
    ("idle_cost_lambda_usd", "  Lambda (requests and GB-seconds)", ""),
    ("idle_cost_sqs_usd", "  SQS (requests)", ""),
    ("idle_cost_eventbridge_usd", "  EventBridge (scheduled rule events)", "free"),
    ("idle_cost_secrets_manager_usd", "  Secrets Manager (secrets and calls)", ""),
    ("idle_lambda_invocations_per_month", "  Lambda invocations per month", ""),
    ("idle_dynamodb_read_units_per_month", "  DynamoDB read request units per month", ""),
    ("idle_dynamodb_write_units_per_month", "  DynamoDB write request units per month", ""),
    ("idle_sqs_requests_per_month", "  SQS requests per month", ""),
    ("portal_page_bytes", "portal page weight, bytes (index, script, styles)", "target < 150 KB"),
    ("portal_page_gzip_bytes", "  the same, gzip-compressed as CloudFront sends it", ""),
    ("portal_sign_in_to_list_p50_ms", "portal: from Sign in to the desktop list, p50 (ms)", "target < 1000"),
    ("portal_sign_in_to_list_max_ms", "  the same, slowest of 10 (ms)", ""),
    ("forecast_flat_idle_desktop_hours", "a month, flat threshold never failing: idle desktop-hours", ""),
    ("forecast_admin_idle_desktop_hours", "  admin-style time limits: idle desktop-hours", ""),
    ("forecast_admin_failed_logins", "  admin-style time limits: logins that found no desktop", ""),
    ("forecast_idle_desktop_hours", "  the forecast: idle desktop-hours", ""),
    ("forecast_failed_logins", "  the forecast: logins that found no desktop", "flat's (0)"),
    ("forecast_idle_saving_percent", "  the forecast: fewer idle desktop-hours than flat, %", "target >= 30"),
    ("pool_stats_seconds", "pool_stats, 100 pools x 100 desktops: seconds", ""),
    (
        "pool_stats_dynamodb_requests",
        "pool_stats, 100 pools x 100 desktops: DynamoDB requests",
        "grows with pools, not desktops",
    ),
]


def main() -> int:
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for name, section in SECTIONS:
        if name in SKIP:
            continue
        print(f"[bench] {name}...", flush=True)
        try:
            results.update(section())
        except Exception as error:  # report and go on: one missing figure should not hide the others
            results[f"{name}_error"] = f"{type(error).__name__}: {error}"
            print(f"[bench] {name} failed: {error}", flush=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    width = max(len(label) for _, label, _ in ROWS)
    print()
    print(f"{'figure'.ljust(width)}  {'value':>10}  anchor")
    print(f"{'-' * width}  {'-' * 10}  {'-' * 40}")
    for key, label, anchor in ROWS:
        value = results.get(key, "n/a")
        print(f"{label.ljust(width)}  {value!s:>10}  {anchor}")
    for key, value in results.items():
        if key.endswith("_error"):
            print(f"! {key}: {value}")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
