"""The portal's figures (issue 14): its page weight, and the time from "Sign in" to the desktop list.

Page weight: what a first visit downloads (index.html, the script, the style sheet; web/dist/manifest.json
names them), as built and gzip-compressed (CloudFront compresses them). Sign-in time: the broker served as
`make run` serves it (waitress and the portal on one origin, `python -m localdev.http_server`) in a process
of its own, moto's server behind it, real argon2 parameters; Debian's Chromium (Playwright, headless)
opens the portal, fills the form, and the time runs from the click on "Sign in" until the heading "My
desktops" and the user's desktop card are visible. Each sign-in is a new user in a fresh browser context
(a login that claims a desktop, as a user's first login of the day); one warm-up sign-in first.
"""

from __future__ import annotations

import gzip
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.served import broker_process, local_aws

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "web" / "dist"
SIGN_INS = 10
PASSWORD = "portal-bench-pw"
TENANT = "portal-bench"


def page_weight() -> dict[str, Any]:
    manifest = json.loads((DIST / "manifest.json").read_text())
    files = [DIST / name for name in manifest["page"]]
    raw = sum(path.stat().st_size for path in files)
    compressed = sum(len(gzip.compress(path.read_bytes(), 9)) for path in files)
    return {"portal_page_bytes": raw, "portal_page_gzip_bytes": compressed, "portal_page_files": len(files)}


def _seed(users: int) -> None:
    from chalicelib.domain.caller import SYSTEM_TENANT_ID, Caller
    from chalicelib.schemas.admin import TenantBody, UserAdd
    from chalicelib.schemas.policies import PolicyBody, PoolAssignmentBody
    from chalicelib.schemas.pools import PoolBody
    from chalicelib.services import policies, pools, tenants
    from chalicelib.services import users as user_service
    from chalicelib.store.desktops import DesktopStore

    system = Caller(tenant_id=SYSTEM_TENANT_ID, user_id=0, login="admin", role="Administrator")
    tenant_id = int(tenants.create_tenant(system, TenantBody(name=TENANT)).id)
    admin = Caller(tenant_id=tenant_id, user_id=0, login="boss", role="Administrator")
    pool = pools.create_pool(admin, PoolBody.model_validate({
        "name": "portal", "pool_definition": {"restrict_by": "A", "attributes": [
            {"vm_table_field": "name", "condition_type": "bw", "text_to_match": "portal-"}]}}))
    policy = policies.create_policy(admin, PolicyBody(name="portal", is_default=1))
    policies.add_assignment(admin, int(policy.id), PoolAssignmentBody(pool_id=int(pool.id)))
    store = DesktopStore()
    desktops = [store.new(tenant_id, 1, int(pool.id), f"portal-{n:03d}", display_name=f"Desktop {n}",
                         lifecycle="active", available=True, deletable=False, power_state="running",
                         instance_id=f"i-{n}", fixed_addresses=(f"198.51.100.{n + 10}",))
               for n in range(users)]
    for desktop in desktops:  # written and counted into the pool together, as the scan adds a desktop
        store.add_counted(desktop, int(pool.id), None)
    for n in range(users):
        user_service.create_user(admin, UserAdd(is_local=1, user_login=f"person{n}", name=f"Person {n}",
                                                password=PASSWORD, role_name="User"))


def _sign_in_seconds(browser: Any, base: str, user: str) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{base}/")
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Domain").fill(TENANT)
        button = page.get_by_role("button", name="Sign in")
        started = time.perf_counter()
        button.click()
        page.get_by_role("heading", name="My desktops").wait_for(state="visible", timeout=60_000)
        card = page.get_by_role("button", name="Connect", exact=False).first
        card.wait_for(state="visible", timeout=60_000)
        return time.perf_counter() - started
    finally:
        context.close()


def run_portal_bench() -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    results = page_weight()
    with local_aws("benchportal") as env:
        _seed(SIGN_INS + 1)
        with broker_process(env) as (base, _), sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                _sign_in_seconds(browser, base, f"person{SIGN_INS}")  # warm-up: the first route loads
                seconds = [_sign_in_seconds(browser, base, f"person{n}") for n in range(SIGN_INS)]
            finally:
                browser.close()
    results.update({
        "portal_sign_ins_measured": len(seconds),
        "portal_sign_in_to_list_p50_ms": round(statistics.median(seconds) * 1000, 1),
        "portal_sign_in_to_list_max_ms": round(max(seconds) * 1000, 1),
    })
    return results
