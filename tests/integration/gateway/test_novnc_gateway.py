"""HTML5 through a real gateway: a desktop of the test's own on loopback (Xvfb painted a known colour,
x11vnc on 127.0.0.1), registered by hand in an uncategorized center; the broker's connect URL; a real
websockify with its JWT plugin (the Debian packages, as gateway/ runs them) between the viewer and the
desktop. Nothing here reaches an address of the local OpenStack.

(a) the token of the connect URL opens the desktop: RFB through the WebSocket shows the painted colour;
(b) the same token after its minute is refused (a second websockify whose clock is two minutes ahead), and
    so is a token the broker issued two minutes ago (the broker's clock set back);
(c) the token of another desktop opens that desktop (a listener of the test's own), not this one, and
    rewriting its address to this one's breaks its signature;
(d) forged tokens are refused: another key, `alg: none`, HS256 keyed with the public key, a JWE encrypted
    to the public key.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from chalicelib import clock
from chalicelib.domain import gateway_tokens
from localdev import live_desktop
from tests.fixtures.rfb import Refused, open_viewer
from tests.integration.client.conftest import ClientApi, ClientWorld, as_json

PAINTED = "#3366cc"
PAINTED_RGB = (0x33, 0x66, 0xCC)
OTHER_HOST = "127.0.0.2"  # the other desktop: a listener of the test's own on another loopback address
OTHER_BANNER = b"RFB 003.003\n"  # x11vnc says 003.008: which desktop answered is plain
AHEAD_SECONDS = 120  # the second gateway's clock: the token's minute is over there


@dataclass
class OtherDesktop:
    """Accepts connections on OTHER_HOST, answers each with its own banner, and counts them."""

    port: int
    connections: int = 0
    sock: socket.socket = field(default_factory=socket.socket)

    def start(self) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((OTHER_HOST, self.port))
        self.sock.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn.sendall(OTHER_BANNER)
                conn.settimeout(5)
                conn.recv(64)
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self) -> None:
        self.sock.close()


@dataclass
class Gateways:
    desktop: live_desktop.Desktop
    other: OtherDesktop
    key_file: Path
    port: int  # websockify with the real clock
    ahead_port: int  # websockify whose clock is AHEAD_SECONDS ahead

    def trust(self, verification_key: str) -> None:
        """Give both gateways the key of the broker's gateway record (the plugin reads it per lookup)."""
        self.key_file.write_text(verification_key)


# websockify exactly as installed, with time.time() moved ahead: its plugin and jwcrypto both read it.
AHEAD_LAUNCHER = f"""
import sys, time
_real = time.time
time.time = lambda: _real() + {AHEAD_SECONDS}
sys.argv = ["websockify", *sys.argv[1:]]
from websockify.websocketproxy import websockify_init
websockify_init()
"""


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    missing = live_desktop.missing_programs()
    assert missing == [], f"make test installs these Debian packages (debian-packages.txt): {missing}"
    processes = live_desktop.LocalProcesses()
    folder = tmp_path_factory.mktemp("gateway")
    key_file = folder / "broker-key.pem"
    key_file.write_text("")
    other: OtherDesktop | None = None
    try:
        desktop = live_desktop.start_desktop(processes, PAINTED)
        other = OtherDesktop(desktop.vnc_port)
        other.start()
        port = live_desktop.start_gateway(processes, key_file, log=folder / "websockify.log")
        ahead_port = live_desktop.free_port()
        ahead = ["/usr/bin/python3", "-c", AHEAD_LAUNCHER,
                 *live_desktop.gateway_command(key_file, "127.0.0.1", ahead_port)[1:]]
        live_desktop.start_gateway(processes, key_file, port=ahead_port, command=ahead,
                                   log=folder / "websockify-ahead.log")
        yield Gateways(desktop, other, key_file, port, ahead_port)
    finally:
        if other is not None:
            other.stop()
        processes.stop()


@dataclass
class Connected:
    live: dict[str, Any]
    other: dict[str, Any]
    live_token: str
    other_token: str
    verification_key: str
    gateway_id: int


def token_of(url: str) -> str:
    fragment = parse_qs(urlsplit(url).fragment)
    return parse_qs(urlsplit(fragment["path"][0]).query)["token"][0]


def html5_world(world: ClientWorld, client: ClientApi, gateways: Gateways) -> Connected:
    api, sid = world.api, world.tenant.sid
    gateway = api.call("POST", "/rest/v1/gateways", {
        "name": "local", "address": "127.0.0.1", "url": f"http://127.0.0.1:{gateways.port}/",
        "allow_cleartext": 1}, sid=sid)
    assert gateway.status == 201, gateway.body
    gateways.trust(gateway.body["stored_data"]["verification_key"])
    center = api.call("POST", "/rest/v1/centers/uncategorized", {"center_definition": {"name": "Enrolled"}},
                      sid=sid)
    center_id = center.body["stored_data"]["id"]
    pool = api.call("POST", "/rest/v1/pools", {"name": "live", "pool_definition": {
        "restrict_by": "C", "server_ids": [center_id]}}, sid=sid).body["stored_data"]["id"]
    plan = world.plan("browser", "html5", gateway_id=gateway.body["stored_data"]["id"],
                      port=gateways.desktop.vnc_port)
    world.assign(world.policy(), pool, plan_protocol_id=plan, offer_quantity=2)
    for name, address in (("live", gateways.desktop.vnc_host), ("other", OTHER_HOST)):
        registered = api.call("POST", "/rest/v1/desktops", {"center_id": center_id, "name": name,
                                                            "address": address}, sid=sid)
        assert registered.status == 201, registered.body
    world.user("alice")
    offered = {d["name"]: d for d in client.login("alice").body["desktops"]}
    assert set(offered) == {"live", "other"} and offered["live"]["protocol"] == "html5"
    links = {}
    for name, desktop in offered.items():
        reply = client.call("POST", f"/client/v1/desktops/{desktop['id']}/connect")
        assert reply.status == 200, reply.body
        links[name] = as_json(reply)
    return Connected(offered["live"], offered["other"], token_of(links["live"]["url"]),
                     token_of(links["other"]["url"]), gateway.body["stored_data"]["verification_key"],
                     gateway.body["stored_data"]["id"])


def opens(port: int, token: str) -> bytes | None:
    """The banner of what the gateway opened with the token, or None when it refused."""
    try:
        viewer = open_viewer("127.0.0.1", port, f"websockify?token={token}")
    except Refused:
        return None
    try:
        return viewer.banner().encode()
    except Refused:
        return None
    finally:
        viewer.close()


def test_the_connect_url_opens_the_painted_desktop_through_websockify(
        world: ClientWorld, client: ClientApi, gateways: Gateways) -> None:
    connected = html5_world(world, client, gateways)
    reply = client.call("POST", f"/client/v1/desktops/{connected.live['id']}/connect")
    link = as_json(reply)
    assert link["url"].startswith(f"http://127.0.0.1:{gateways.port}/vnc.html#")
    assert 0 < link["url_expires_at"] - clock.time() <= 60
    claims = jwt.decode(connected.live_token, connected.verification_key, algorithms=["ES256"],
                        audience=f"gateway:{connected.gateway_id}")
    assert (claims["host"], claims["port"], claims["desktop_id"]) == ("127.0.0.1", gateways.desktop.vnc_port,
                                                                     connected.live["id"])
    assert claims["exp"] - claims["iat"] == 60
    viewer = open_viewer("127.0.0.1", gateways.port, f"websockify?token={connected.live_token}")
    try:
        assert viewer.banner() == "RFB 003.008\n"
        assert viewer.pixel() == PAINTED_RGB
    finally:
        viewer.close()
    # noVNC's own files are what the gateway serves at the URL's page
    page = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           f"http://127.0.0.1:{gateways.port}/vnc.html"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert page.stdout == "200"


def test_an_expired_token_is_refused(world: ClientWorld, client: ClientApi, gateways: Gateways) -> None:
    connected = html5_world(world, client, gateways)
    assert opens(gateways.port, connected.live_token) == b"RFB 003.008\n"
    # the same token where its minute is over
    assert opens(gateways.ahead_port, connected.live_token) is None
    # a token the broker issued two minutes ago, at the gateway of the real clock
    assert opens(gateways.port, token_at(client, connected, clock.time() - AHEAD_SECONDS)) is None
    # and the gateway of the future does open a token of its own time (it is not simply broken)
    assert opens(gateways.ahead_port, token_at(client, connected, clock.time() + AHEAD_SECONDS)) == (
        b"RFB 003.008\n")


def token_at(client: ClientApi, connected: Connected, moment: float) -> str:
    """The token the broker signs for the live desktop when its clock reads `moment`."""
    with clock.controlled(start=moment):
        client.login("alice")
        reply = client.call("POST", f"/client/v1/desktops/{connected.live['id']}/connect")
        assert reply.status == 200, reply.body
        return token_of(as_json(reply)["url"])


def test_a_token_for_another_desktop_does_not_open_this_one(world: ClientWorld, client: ClientApi,
                                                            gateways: Gateways) -> None:
    connected = html5_world(world, client, gateways)
    before = gateways.other.connections
    assert opens(gateways.port, connected.other_token) == OTHER_BANNER
    assert gateways.other.connections == before + 1
    # its claims rewritten to name this desktop: the signature no longer holds
    header, payload, signature = connected.other_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["host"] = gateways.desktop.vnc_host
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert opens(gateways.port, f"{header}.{forged_payload}.{signature}") is None
    assert gateways.other.connections == before + 1


def _jwe_to_the_public_key(public_pem: str, claims: dict[str, Any]) -> str:
    """A JWE anyone could make with the gateway's public key (ECDH-ES): websockify's plugin decrypts
    tokens whose header has `enc` with its key; with a public key only it must not open them."""
    script = ("import json, sys\nfrom jwcrypto import jwk, jwe\n"
              "key = jwk.JWK.from_pem(sys.argv[1].encode())\n"
              "token = jwe.JWE(sys.argv[2].encode(), json.dumps({'alg': 'ECDH-ES', 'enc': 'A256GCM'}))\n"
              "token.add_recipient(key)\nprint(token.serialize(compact=True))\n")
    made = subprocess.run(["/usr/bin/python3", "-c", script, public_pem, json.dumps(claims)],
                          capture_output=True, text=True, timeout=60, check=True)
    return made.stdout.strip()


def test_forged_tokens_are_refused(world: ClientWorld, client: ClientApi, gateways: Gateways) -> None:
    connected = html5_world(world, client, gateways)
    now = int(clock.time())
    claims = {"host": gateways.desktop.vnc_host, "port": gateways.desktop.vnc_port, "iat": now,
              "exp": now + 60}
    other_private, _ = gateway_tokens.new_signing_key()
    forgeries = {
        "another key": jwt.encode(claims, other_private, algorithm="ES256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "HS256 keyed with the public key": _hmac_token(claims, connected.verification_key.encode()),
        "JWE to the public key": _jwe_to_the_public_key(connected.verification_key, claims),
        "no signature": connected.live_token.rsplit(".", 1)[0] + ".",
    }
    for what, token in forgeries.items():
        assert opens(gateways.port, token) is None, what
    assert opens(gateways.port, connected.live_token) == b"RFB 003.008\n"  # the real one still opens


def _hmac_token(claims: dict[str, Any], secret: bytes) -> str:
    import hashlib
    import hmac

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
