"""The portal as a person meets it (issue 14, sections 1 and 4), in Debian's Chromium.

The tests find things by what a person sees: labels, button names, headings, the words on the page.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from chalicelib import clock
from chalicelib.services.gateways import gateway_secret_name
from chalicelib.store.secrets import SecretStore
from tests.browser.conftest import WAIT_MS, Portal, name_pattern, retry_after
from tests.integration.api.conftest import Api, TenantAdmin
from tests.integration.auth_servers.conftest import minimal_ldap_body
from tests.integration.client.conftest import USER_PASSWORD, ClientWorld

pytestmark = pytest.mark.browser


def one_desktop(world: ClientWorld, **assignment: object) -> int:
    pool = world.pool()
    world.assign(world.policy(), pool, **assignment)
    world.desktop(pool, display_name="Finance desktop")
    world.user("alice")
    return pool


def test_sign_in_shows_my_desktops_and_the_rdp_file_names_the_desktop(
        portal: Portal, world: ClientWorld, tenant: TenantAdmin) -> None:
    one_desktop(world, display_mode="display_name")
    page = portal.open()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("User name")).to_be_focused()
    portal.look("sign-in")
    portal.sign_in("alice", USER_PASSWORD, tenant.name)
    heading = page.get_by_role("heading", name="My desktops")
    expect(heading).to_be_focused()  # focus moves to the list after sign-in
    expect(page.get_by_text("Signed in as alice (acme)")).to_be_visible()
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Finance desktop"))
    expect(card.get_by_text("Running")).to_be_visible()
    expect(card.get_by_text("Remote Desktop (RDP)")).to_be_visible()
    portal.look("my-desktops")
    with page.expect_download() as download_info:
        card.get_by_role("button", name="Connect to Finance desktop").click()
    download = download_info.value
    assert download.suggested_filename == "Finance-desktop.rdp"
    text = Path(download.path()).read_text()
    assert "full address:s:203.0.113.1:3389" in text and "username:s:alice" in text
    expect(page.get_by_role("status")).to_contain_text("Finance-desktop.rdp was downloaded")
    assert portal.token() is not None  # in this tab's sessionStorage, nowhere else
    assert page.evaluate("document.cookie") == "" and page.evaluate("localStorage.length") == 0


def test_a_wrong_password_says_so_and_takes_the_focus(portal: Portal, world: ClientWorld,
                                                      tenant: TenantAdmin) -> None:
    one_desktop(world)
    page = portal.open()
    portal.sign_in("alice", "not-the-password", tenant.name)
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("The user name, password or domain is not right. Check them and try again.")
    expect(alert).to_be_focused()  # announced, and where a keyboard user is
    expect(page.get_by_label("Password")).to_have_value("")  # never kept
    portal.look("sign-in-wrong-password")
    portal.sign_in("", "x", tenant.name)
    expect(alert).to_have_text("Enter your user name.")
    expect(page.get_by_label("User name")).to_have_attribute("aria-invalid", "true")


def test_a_lockout_says_how_long_to_wait(portal: Portal, world: ClientWorld, tenant: TenantAdmin) -> None:
    one_desktop(world)
    page = portal.open()
    alert = page.get_by_role("alert")
    for attempt in range(5):
        portal.sign_in("alice", f"wrong-{attempt}", tenant.name)
        expect(alert).to_contain_text("is not right")
        page.evaluate("document.getElementById('sign-in-error').hidden = true")  # the next answer shows anew
    portal.sign_in("alice", USER_PASSWORD, tenant.name)  # the right password, after the fifth failure
    expect(alert).to_contain_text("Too many failed sign-ins with this name")
    expect(alert).to_contain_text("try again in 5 minutes")  # Retry-After: 300
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    portal.look("sign-in-locked")


def test_an_unreachable_directory_has_its_own_message(portal: Portal, world: ClientWorld, api: Api,
                                                      tenant: TenantAdmin) -> None:
    with socket.socket() as probe:  # a port on this machine that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    body = minimal_ldap_body(urls=[f"ldap://127.0.0.1:{closed}"], connect_timeout_seconds=2)
    assert api.call("POST", "/rest/v1/auth-servers", body, sid=tenant.sid).status == 201
    page = portal.open()
    portal.sign_in("alice", "whatever-pw", "dir.example")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The directory (LDAP) of domain 'dir.example' cannot be reached right now")
    expect(alert).to_contain_text("try again in 30 seconds")
    portal.look("sign-in-directory-down")


def test_vnc_and_ssh_give_links_and_what_to_copy(portal: Portal, world: ClientWorld,
                                                 tenant: TenantAdmin) -> None:
    policy = world.policy()
    for protocol in ("vnc", "ssh"):
        pool = world.pool(protocol)
        world.assign(policy, pool, plan_protocol_id=world.plan(protocol, protocol))
        world.desktop(pool, name=f"{protocol}-desk")
    world.user("alice")
    page = portal.open()
    portal.sign_in("alice", USER_PASSWORD, tenant.name)
    vnc = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="vnc-desk"))
    vnc.get_by_role("button", name="Connect to vnc-desk").click()
    link = vnc.get_by_role("link", name="Open in your VNC app")
    expect(link).to_have_attribute("href", "vnc://203.0.113.1:5900")  # never followed: nothing is there
    expect(link).to_be_focused()
    expect(vnc.get_by_role("definition").filter(has_text="203.0.113.1")).to_be_visible()
    expect(vnc.get_by_role("button", name="Copy host")).to_be_visible()
    expect(vnc.get_by_role("button", name="Copy port")).to_be_visible()
    ssh = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="ssh-desk"))
    ssh.get_by_role("button", name="Connect to ssh-desk").click()
    expect(ssh.get_by_role("link", name="Open in your SSH app")).to_have_attribute(
        "href", "ssh://alice@203.0.113.2:22")
    expect(ssh.get_by_role("button", name="Copy user")).to_be_visible()
    ssh.get_by_role("button", name="Copy port").click()
    expect(page.get_by_role("status")).to_contain_text("Port")
    portal.look("connection-details")


def test_html5_through_a_gateway_without_its_key_says_so(portal: Portal, world: ClientWorld,
                                                         tenant: TenantAdmin) -> None:
    gateway = world.api.call("POST", "/rest/v1/gateways", {
        "name": "edge", "address": "gw.example.net", "type": "guacamole",
        "url": "https://gw.example.net/guacamole/", "shared_key": "8f3c2a1b9d7e6f5a4c3b2a1908f7e6d5"},
        sid=tenant.sid)
    assert gateway.status == 201, gateway.body
    gateway_id = gateway.body["stored_data"]["id"]
    pool = world.pool()
    world.assign(world.policy(), pool, plan_protocol_id=world.plan(
        "web", "html5", gateway_id=gateway_id, options={"remote_protocol": "vnc"}))
    world.desktop(pool, name="web-desk")
    world.user("alice")
    SecretStore().delete(gateway_secret_name(tenant.tenant_id, gateway_id))
    page = portal.open()
    portal.sign_in("alice", USER_PASSWORD, tenant.name)
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="web-desk"))
    expect(card.get_by_text("In the browser")).to_be_visible()
    card.get_by_role("button", name="Connect to web-desk").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Could not connect to web-desk: The key of gateway 'edge' is missing")
    expect(alert).to_be_focused()
    assert len(page.context.pages) == 1  # the tab opened for the viewer was closed again


def test_release_gives_the_desktop_back(portal: Portal, world: ClientWorld, tenant: TenantAdmin) -> None:
    one_desktop(world)
    page = portal.open()
    portal.sign_in("alice", USER_PASSWORD, tenant.name)
    page.get_by_role("button", name="Release desk-001").click()
    dialog = page.get_by_role("dialog", name="Release desk-001?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    portal.look("release-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    assert world.desktop_record(world.desktops[0].id).assigned_user_id is not None
    page.get_by_role("button", name="Release desk-001").click()
    page.get_by_role("dialog").get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_have_text("desk-001 was released.")
    expect(page.get_by_role("heading", name="desk-001")).to_have_count(0)
    expect(page.get_by_text("You have no desktop now.")).to_be_visible()
    assert world.desktop_record(world.desktops[0].id).assigned_user_id is None
    portal.look("released")
    # "Get a desktop" runs the offer again: the desktop is free, so it comes back
    page.get_by_role("button", name="Get a desktop").click()
    expect(page.get_by_role("heading", name="desk-001")).to_be_visible()


def test_a_desktop_the_policy_keeps_has_no_release(portal: Portal, world: ClientWorld,
                                                   tenant: TenantAdmin) -> None:
    one_desktop(world, prevent_release=1)
    page = portal.open()
    portal.sign_in("alice", USER_PASSWORD, tenant.name)
    expect(page.get_by_role("button", name="Connect to desk-001")).to_be_visible()
    expect(page.get_by_role("button", name=name_pattern("Release"))).to_have_count(0)


def test_sign_out_ends_the_session(portal: Portal, world: ClientWorld, tenant: TenantAdmin) -> None:
    one_desktop(world)
    page = portal.open()
    portal.sign_in("alice", USER_PASSWORD, tenant.name)
    expect(page.get_by_role("heading", name="My desktops")).to_be_visible()
    token = portal.token()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="You have signed out.")).to_be_visible()
    assert portal.token() is None
    page.wait_for_load_state("networkidle")
    answer = requests.get(f"{portal.url}/client/v1/desktops", headers={"Authorization": f"Bearer {token}"},
                          timeout=WAIT_MS / 1000)
    assert answer.status_code == 401  # revoked at the broker, not only forgotten by the tab
    portal.look("signed-out")
    page.reload()  # nothing left in the tab signs anyone in again
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_an_expired_token_returns_to_sign_in(portal: Portal, world: ClientWorld, tenant: TenantAdmin) -> None:
    one_desktop(world)
    with clock.controlled() as now:
        page = portal.open()
        portal.sign_in("alice", USER_PASSWORD, tenant.name)
        expect(page.get_by_role("heading", name="My desktops")).to_be_visible()
        now.advance(481 * 60)  # past the token's 480 minutes, at the broker
        page.get_by_role("button", name="Connect to desk-001").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_focused()
        expect(page.get_by_role("status").filter(has_text="Your session has ended")).to_be_visible()
        assert portal.token() is None
        portal.look("session-ended")


def test_a_reload_keeps_the_session_of_this_tab(portal: Portal, world: ClientWorld,
                                                tenant: TenantAdmin) -> None:
    one_desktop(world)
    page = portal.open()
    portal.sign_in("alice", USER_PASSWORD, tenant.name)
    expect(page.get_by_role("heading", name="desk-001")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="desk-001")).to_be_visible()
    other = page.context.new_page()  # another tab has its own sessionStorage: not signed in there
    other.goto(portal.url + "/")
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()


def test_no_desktop_yet_counts_down_then_gets_one(portal: Portal, world: ClientWorld, tenant: TenantAdmin,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    retry_after(monkeypatch, 3)
    pool = world.pool()
    world.assign(world.policy(), pool)
    world.user("alice")
    page = portal.open()
    portal.sign_in("alice", USER_PASSWORD, tenant.name)
    expect(page.get_by_text("No desktop is available right now")).to_be_visible()
    expect(page.get_by_role("timer")).to_contain_text("Trying again in")
    portal.look("waiting")
    world.desktop(pool, name="late-desk")  # provisioning finished meanwhile
    # the countdown runs out and the portal asks again (as often as needed), without the password
    expect(page.get_by_role("heading", name="late-desk")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("A desktop is ready for you.")
    assert world.desktop_record(world.desktops[0].id).assigned_user_id is not None


def test_the_listed_domains_are_offered_and_no_others(portal: Portal, api: Api, system_sid: str,
                                                      tenant: TenantAdmin) -> None:
    api.call("POST", "/rest/v1/tenants", {"name": "listed-co", "listed_at_login": 1,
                                          "login_domains": ["listed.example"]}, sid=system_sid)
    page = portal.open()
    options = page.locator("#domain-list option")
    expect(options).to_have_count(2)
    assert sorted(options.evaluate_all("nodes => nodes.map(n => n.value)")) == ["listed-co", "listed.example"]
    # the domain stays a free field: acme (not listed) is typed
    page.get_by_label("Domain").fill(tenant.name)
    expect(page.get_by_label("Domain")).to_have_value("acme")


def test_everything_works_from_the_keyboard(portal: Portal, world: ClientWorld, tenant: TenantAdmin) -> None:
    one_desktop(world)
    page = portal.open()
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(USER_PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type(tenant.name)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My desktops")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Connect to desk-001")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Release desk-001")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog").get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert world.desktop_record(world.desktops[0].id).assigned_user_id is not None


def test_what_the_broker_sends_is_shown_as_text_never_run(portal: Portal, world: ClientWorld,
                                                         tenant: TenantAdmin) -> None:
    """A tenant administrator names desktops; a name made of markup stays words on the page."""
    pool = world.pool()
    world.assign(world.policy(), pool, display_mode="display_name")
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    world.desktop(pool, display_name=hostile)
    world.user("alice")
    page = portal.open()
    portal.sign_in("alice", USER_PASSWORD, tenant.name)
    expect(page.get_by_role("heading", name=hostile)).to_be_visible()
    assert page.locator("#cards img, #cards script").count() == 0
    assert page.evaluate("typeof window.pwned") == "undefined"
