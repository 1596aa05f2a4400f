"""`make run`'s live desktop (issue 14, section 3), against `localdev/run.py` as a process of its own: the
demo user `bob` signs in, connects, and the link the broker returns opens the live desktop through make run's
local noVNC gateway (the colour make run painted on it comes back over RFB); Ctrl-C or SIGTERM stops the
display, the VNC server, the terminal and the gateway with everything else."""

from __future__ import annotations

import re
import signal
from urllib.parse import parse_qs, urlsplit

import requests

from localdev import live_demo
from localdev.demo import DEMO_TENANT, LIVE_USER, LIVE_USER_PASSWORD
from tests.fixtures.rfb import open_viewer
from tests.reliability.make_run import port_is_free, started_make_run

TIMEOUT_SECONDS = 300.0  # a bound for a loaded machine, not a measurement


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_the_live_desktop_opens_through_the_local_gateway_and_stops_with_make_run() -> None:
    with started_make_run() as run:
        printed = run.printed()
        assert f"'{LIVE_USER}' / '{LIVE_USER_PASSWORD}'" in printed, printed
        vnc_port = int(re.search(r"x11vnc on 127\.0\.0\.1:(\d+)", printed).group(1))  # type: ignore[union-attr]
        login = requests.post(f"{run.url}/client/v1/login", timeout=TIMEOUT_SECONDS, json={
            "user_login": LIVE_USER, "password": LIVE_USER_PASSWORD, "domain": DEMO_TENANT})
        assert login.status_code == 200, login.text
        [desktop] = login.json()["desktops"]
        assert (desktop["protocol"], desktop["address"], desktop["port"]) == ("html5", "127.0.0.1", vnc_port)
        connect = requests.post(f"{run.url}/client/v1/desktops/{desktop['id']}/connect",
                                headers={"Authorization": f"Bearer {login.json()['token']}"},
                                timeout=TIMEOUT_SECONDS)
        assert connect.status_code == 200, connect.text
        url = urlsplit(connect.json()["url"])
        gateway_port = url.port
        assert url.hostname == "127.0.0.1" and url.path == "/vnc.html" and gateway_port is not None
        viewer = open_viewer("127.0.0.1", gateway_port, parse_qs(url.fragment)["path"][0])
        try:
            assert viewer.banner() == "RFB 003.008\n"
            assert viewer.pixel() == _rgb(live_demo.COLOUR)
        finally:
            viewer.close()
        run.process.send_signal(signal.SIGTERM)
        code = run.process.wait(timeout=TIMEOUT_SECONDS)
        left = run.session_processes()
        printed = run.printed()
    assert code == 0, printed
    assert left == [], f"processes of make run still alive (the live desktop's?): {left}"
    assert port_is_free(gateway_port) and port_is_free(vnc_port)
