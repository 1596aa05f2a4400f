"""Invariant 6, for the whole run: no log line, no response body and no captured output of any test
contained a password, a center secret or a token (the secrets watch, tests/fixtures/secrets_watch.py).

The test is moved to the end of the run (marker `secrets_watch_final`). It first drives the flows that
carry secrets itself (admin logins, a center created and updated with its password, a client login,
an agent registration), so that it means something when run alone, and proves with canaries that a
secret written to a log line or a response would be caught right now, through the same hooks.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace

import pytest
from chalice.test import Client

from app import app
from chalicelib.services import client_cache
from chalicelib.services.sessions import ensure_system_admin
from chalicelib.store.desktops import DesktopStore
from tests.fixtures.aws import aws_stack_context
from tests.fixtures.secrets_watch import WATCH
from tests.integration.api.builders import (
    assign_pool,
    create_center,
    create_policy,
    create_pool,
    create_user,
    fast_test_backends,
)
from tests.integration.api.conftest import Api, make_tenant
from tests.integration.client.conftest import add_desktop

pytestmark = pytest.mark.secrets_watch_final

# What a run of the whole suite observes at least (a run of ~900 tests observes far more: the figures
# are in docs/reliability.md); below these, a hook has stopped capturing.
SUITE_MINIMUM_TESTS = 800
SUITE_MINIMUM = {"log": 4000, "response": 2500, "secrets": 500}


@dataclass
class Flows:
    secrets: dict[str, str]  # what each value is -> the value
    responses: int
    log_lines: int


def _drive_flows() -> Flows:
    """Admin and client logins, a center with a secret, an agent registration: every kind of secret."""
    tag = uuid.uuid4().hex[:10]
    secrets = {
        "admin password": f"watch-admin-{tag}",
        "wrong password": f"watch-wrong-{tag}",
        "center secret": f"watch-center-{tag}",
        "new center secret": f"watch-center-new-{tag}",
        "user password": f"watch-user-{tag}",
    }
    before = dict(WATCH.observed)
    with aws_stack_context() as aws, fast_test_backends(), Client(app) as client:
        client_cache.clear_all()
        ensure_system_admin(secrets["admin password"])
        api = Api(client, aws)
        system_sid = api.login("admin", secrets["admin password"])
        refused = api.call("POST", "/rest/v1/session/login",
                           {"user_login": "admin", "password": secrets["wrong password"]})
        assert refused.status == 401, refused.body
        tenant = make_tenant(api, system_sid, f"watch-{tag}")

        center = create_center(api, tenant.sid, "watch-lab", vc_password=secrets["center secret"])
        updated = api.call("PUT", f"/rest/v1/centers/openstack/{center['id']}",
                           {"center_definition": {"vc_password": secrets["new center secret"]}},
                           sid=tenant.sid)
        assert updated.status == 200, updated.body
        for path in (f"/rest/v1/centers/{center['id']}", "/rest/v1/centers"):
            assert api.call("GET", path, sid=tenant.sid).status == 200

        pool = create_pool(api, tenant.sid, center["id"], provision={"provision_on_off": 0})
        policy = create_policy(api, tenant.sid, is_default=1)
        assign_pool(api, tenant.sid, policy["id"], pool["id"])
        create_user(api, tenant.sid, "watcher", password=secrets["user password"])
        desktop = add_desktop(tenant.tenant_id, center["id"], pool["id"], "watch-desk")
        desktop = DesktopStore().save(replace(desktop, instance_id=str(uuid.uuid4())))

        login = {"user_login": "watcher", "domain": tenant.name}
        wrong = api.call("POST", "/client/v1/login", {**login, "password": secrets["wrong password"]})
        assert wrong.status == 401, wrong.body
        reply = api.call("POST", "/client/v1/login", {**login, "password": secrets["user password"]})
        assert reply.status == 200, reply.body
        secrets["client token"] = reply.body["token"]
        bearer = {"Authorization": f"Bearer {secrets['client token']}"}
        assert api.call("GET", "/client/v1/desktops", headers=bearer).status == 200

        issued = api.call("POST", f"/rest/v1/desktops/{desktop.id}/agent-registration", sid=tenant.sid)
        assert issued.status in (200, 201), issued.body
        secrets["registration token"] = issued.body["registration_token"]
        registered = api.call("POST", "/agent/v1/register", {
            "instance_uuid": desktop.instance_id, "registration_token": secrets["registration token"],
            "hostname": "watch-desk"})
        assert registered.status == 201, registered.body
        secrets["agent token"] = registered.body["agent_token"]
        event = api.call("POST", "/agent/v1/events", {"event": "login", "user": "watcher"},
                         headers={"Authorization": f"Bearer {secrets['agent token']}"})
        assert event.status < 300, event.body

        assert api.call("GET", "/rest/v1/logs", sid=tenant.sid).status == 200
        assert api.call("POST", "/client/v1/logout", headers=bearer).status < 300
        secrets["admin sid"], secrets["tenant admin sid"] = system_sid, tenant.sid
        client_cache.clear_all()
    return Flows(secrets, WATCH.observed["response"] - before.get("response", 0),
                 WATCH.observed["log"] - before.get("log", 0))


def test_no_secret_reached_a_log_line_a_response_or_the_output() -> None:
    flows = _drive_flows()

    # The hooks are live: every secret of the flows was learned, their requests and log lines seen.
    assert [what for what, value in flows.secrets.items() if not WATCH.knows(value)] == []
    assert flows.responses >= 20, WATCH.summary()
    assert flows.log_lines >= 20, WATCH.summary()

    # ... and they would catch a leak now: a canary secret in a log line, then in a response.
    canary = f"watch-canary-{uuid.uuid4().hex}"
    with WATCH.canary(canary) as caught:
        logging.getLogger("broker.secrets_watch").warning("about to leak %s", canary)
    assert [leak.source for leak in caught] == ["log"], caught
    with aws_stack_context() as aws, Client(app) as client:
        ensure_system_admin("watch-canary-admin-pw")
        api = Api(client, aws)
        sid = api.login("admin", "watch-canary-admin-pw")
        with WATCH.canary(canary) as caught:
            assert api.call("POST", "/rest/v1/tenants", {"name": canary}, sid=sid).status == 201
        assert "response" in {leak.source for leak in caught}, caught

    WATCH.check()
    print(WATCH.summary())
    assert WATCH.leaks == [], "\n".join(str(leak) for leak in WATCH.leaks[:20])
    if WATCH.tests >= SUITE_MINIMUM_TESTS:  # the whole suite ran before: it observed a lot
        assert WATCH.observed["log"] >= SUITE_MINIMUM["log"], WATCH.summary()
        assert WATCH.observed["response"] >= SUITE_MINIMUM["response"], WATCH.summary()
        assert sum(WATCH.learned.values()) >= SUITE_MINIMUM["secrets"], WATCH.summary()
