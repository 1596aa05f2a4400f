"""The documents the broker signs for HTML5 gateways (chalicelib/domain/gateway_tokens.py): the Guacamole
encoding against the published example of guacamole-auth-json, and the noVNC token and viewer URL."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import pytest

from chalicelib.domain import gateway_tokens as tokens

# The known answer: the example of apache/guacamole-client extensions/guacamole-auth-json/README.md,
# "Reference implementation": `./encrypt-json.sh 4C0B569E4C96DF157EEE1B65DD0E4D41 auth.json` and its output.
# The README shows auth.json inside an indented Markdown block; the bytes its output was made from are
# that JSON indented by two spaces, without a final newline (decrypting the output with the key gives
# exactly these bytes, which the test checks too).
README_KEY = "4C0B569E4C96DF157EEE1B65DD0E4D41"
README_JSON = b"""{
  "username" : "test",
  "expires" : "1446323765000",
  "connections" : {
    "My Connection" : {
      "protocol" : "rdp",
      "parameters" : {
        "hostname" : "10.10.209.63",
        "port" : "3389",
        "ignore-cert": "true",
        "recording-path": "/recordings",
        "recording-name": "My-Connection-${GUAC_USERNAME}-${GUAC_DATE}-${GUAC_TIME}"
      }
    },
    "My OTHER Connection" : {
      "protocol" : "rdp",
      "parameters" : {
        "hostname" : "10.10.209.64",
        "port" : "3389",
        "ignore-cert": "true",
        "recording-path": "/recordings",
        "recording-name": "My-OTHER-Connection-${GUAC_USERNAME}-${GUAC_DATE}-${GUAC_TIME}"
      }
    }
  }
}"""
README_OUTPUT = """
A2Pf5Kpmm97I2DT1PifIrfU6q3yzoGcIbNXEd60WNangT8DAVjAl6luaqwhBJnCK
uqcf9ZZlRo3uDxTHvUM3eq1YvdghL0GbosOn8Mn38j2ydOMk+Cd15a8ggb4/ddt/
yIBK4DxrN7MNbouZ091KYtXC6m20E6sGzLy676BlMSg1cmsENRIihOynsSLSCvo0
diif6H7T+ZuIqF7B5SW+adGfMaHlfknlIvSpLGHhrIP4aMYE/ZU2vYNg8ez27sCS
wDBWu5lERtfCYFyU4ysjRU5Hyov+yKa+O7jcRYpw3N+fHbCg7/dxVNW07qNOKssv
pzUciGvDPUCPpa02WmPJNEBowwQireO1952/MNAI77cW2UepbljD/bwOiZl2THJz
LrENo7K5acimBa+EjWEesgn7lx/WTCF3zxR6TH1CWrQM8Et1aUK1Nf8K11xEQbTy
klyaNtCmTfyahRZ/fUPxDNrdJVpPOSELkf7RJO5tOdK/FFIFIbze3ZUyXgRq+pHY
owpgOmudDBTBlxhXiONdutRI/RZbFM/7GBMdmI8AR/401OCV3nsI4jLhukjMXH3V
f3pQg+xKMhi/QExHhDk8VTNYk7GurK4vgehn7HQ0oSGh8pGcmxB6W43cz+hyn6VQ
On6i90cSnIhRO8SysZt332LwJCDm7I+lBLaI8NVHU6bnAY1Axx5oH3YTKc4qzHls
HEAFYLkD6aHMvHkF3b798CMravjxiJV3m7hsXDbaFN6AFhn8GIkMRRrjuevfZ+q9
enWN14s24vt5OVg69DljzALobUNKUXFx69SR8EpSBvUcKq8s/OgbDpFvKbwsDY57
HGT4T0CuRIA0TGUI075uerKBNApVhuBA1BmWJIrI4JXw5MuX6pdBe+MYccO3vfo+
/frazj8rHdkDa/IbueMbvq+1ozV2+UuxrbaTrV2i4jSRgd74U0QzOh9e8Q0i7vOi
l3hnIfOfg+v1oULmZmJSeiAYWxeGvPptp+n7rNFqHGM=
""".replace("\n", "")


def test_the_guacamole_encoding_gives_the_readmes_published_output() -> None:
    assert tokens.seal_guacamole(README_KEY, README_JSON) == README_OUTPUT
    assert tokens.open_guacamole(README_KEY, README_OUTPUT) == README_JSON


def test_a_guacamole_document_under_another_key_or_tampered_does_not_open() -> None:
    assert tokens.open_guacamole("00" * 16, README_OUTPUT) is None
    raw = bytearray(base64.b64decode(README_OUTPUT))
    raw[40] ^= 1  # one bit of the ciphertext: the signature no longer holds
    assert tokens.open_guacamole(README_KEY, base64.b64encode(bytes(raw)).decode()) is None


def test_the_broker_guacamole_document_expires_and_is_single_use() -> None:
    document = tokens.guacamole_document(username="alice", connection_name="Desk 1", protocol="rdp",
                                         parameters={"hostname": "10.1.2.3", "port": 3389},
                                         now=1_800_000_000.5)
    sealed = tokens.seal_guacamole(README_KEY.lower(), document)
    opened = json.loads(tokens.open_guacamole(README_KEY, sealed) or b"null")
    assert opened == {
        "username": "alice", "expires": 1_800_000_060_500, "singleUse": True,
        "connections": {"Desk 1": {"protocol": "rdp", "parameters": {"hostname": "10.1.2.3", "port": "3389"},
                                   "singleUse": True}},
    }
    url = tokens.guacamole_url("https://guac.example/guacamole", sealed)
    assert parse_qs(urlsplit(url).query) == {"data": [sealed]} and url.startswith("https://guac.example/guacamole/?")


def test_guacamole_keys_are_128_bit_hex() -> None:
    assert tokens.valid_guacamole_key(README_KEY)
    assert not tokens.valid_guacamole_key(README_KEY[:-2])
    assert not tokens.valid_guacamole_key("zz" * 16)


def test_a_novnc_token_names_one_desktop_for_one_minute() -> None:
    private_pem, public_pem = tokens.new_signing_key()
    claims = tokens.novnc_claims(host="10.0.0.5", port=5901, desktop_id=12, user="alice", gateway_id=3,
                                 tenant_id=7, now=1_800_000_000.9)
    token = tokens.sign_novnc_token(private_pem, claims)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == tokens.key_id(public_pem)
    decoded = jwt.decode(token, public_pem, algorithms=["ES256"], audience="gateway:3",
                         options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})
    assert decoded == claims
    assert (decoded["host"], decoded["port"], decoded["desktop_id"]) == ("10.0.0.5", 5901, 12)
    assert decoded["exp"] - decoded["iat"] == tokens.NOVNC_TOKEN_SECONDS <= 60
    assert decoded["nbf"] < decoded["iat"] < decoded["exp"]
    other_private, other_public = tokens.new_signing_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other_public, algorithms=["ES256"], options={"verify_exp": False})
    assert tokens.public_key_of(private_pem) == public_pem and other_private != private_pem


@pytest.mark.parametrize(("gateway_url", "page", "websocket_path"), [
    ("https://gw.example/", "https://gw.example/vnc.html", "websockify"),
    ("https://gw.example", "https://gw.example/vnc.html", "websockify"),
    ("https://gw.example:8443/novnc/", "https://gw.example:8443/novnc/vnc.html", "novnc/websockify"),
])
def test_the_viewer_url_carries_the_token_in_its_fragment(gateway_url: str, page: str,
                                                         websocket_path: str) -> None:
    url = tokens.novnc_viewer_url(gateway_url, "a.b.c", {"novnc_view_only": True, "remote_protocol": "vnc"})
    before, fragment = url.split("#", 1)
    assert before == page  # nothing of the token in what the browser sends for the page
    settings = {k: v[0] for k, v in parse_qs(fragment).items()}
    assert settings == {"autoconnect": "true", "reconnect": "false", "resize": "scale", "view_only": "true",
                        "path": f"{websocket_path}?token=a.b.c"}
    assert "token%3Da.b.c" in fragment and unquote(fragment).endswith("token=a.b.c")


def test_a_novnc_token_records_whom_and_what_it_was_issued_for_under_a_fresh_id() -> None:
    """The claims the gateway's log and an investigation read (docs/gateway.md), under their own names,
    and a `jti` of its own in each token: the `client.connect` audit event names the token by it."""
    def claims() -> dict:
        return tokens.novnc_claims(host="10.0.0.5", port=5901, desktop_id=12, user="alice", gateway_id=3,
                                   tenant_id=7, now=1_800_000_000.0)

    first, second = claims(), claims()
    assert set(first) == {"host", "port", "iat", "nbf", "exp", "jti", "sub", "aud", "tid", "desktop_id"}
    assert (first["sub"], first["aud"], first["tid"]) == ("alice", "gateway:3", 7)
    assert first["nbf"] == first["iat"] - tokens.CLOCK_SKEW_SECONDS
    assert first["jti"] != second["jti"] and len(first["jti"]) >= 22  # 128 random bits, base64url


def test_the_viewer_settings_of_the_plan_reach_novnc() -> None:
    options = {"novnc_resize": "remote", "novnc_quality": 6, "novnc_compression": 2, "novnc_show_dot": False,
               "novnc_unknown": "x", "remote_protocol": "vnc"}
    url = tokens.novnc_viewer_url("https://gw.example/", "a.b.c", options)
    settings = {k: v[0] for k, v in parse_qs(url.split("#", 1)[1]).items()}
    assert settings == {"autoconnect": "true", "reconnect": "false", "resize": "remote", "quality": "6",
                        "compression": "2", "show_dot": "false", "path": "websockify?token=a.b.c"}


@pytest.mark.parametrize(("gateway_url", "page", "websocket_path"), [
    ("https://gw.example/VNX/", "https://gw.example/VNX/vnc.html", "VNX/websockify"),
    ("https://gw.example/XnovncX", "https://gw.example/XnovncX/vnc.html", "XnovncX/websockify"),
])
def test_the_viewer_url_keeps_the_gateways_path_whatever_its_letters(gateway_url: str, page: str,
                                                                    websocket_path: str) -> None:
    url = tokens.novnc_viewer_url(gateway_url, "a.b.c")
    before, fragment = url.split("#", 1)
    assert before == page
    assert parse_qs(fragment)["path"] == [f"{websocket_path}?token=a.b.c"]


@pytest.mark.parametrize(("gateway_url", "application"), [
    ("https://guac.example/guacamole/", "https://guac.example/guacamole/"),
    ("https://guac.example/GUX", "https://guac.example/GUX/"),
    ("https://guac.example", "https://guac.example/"),
])
def test_the_guacamole_url_is_the_application_with_one_data_parameter(gateway_url: str,
                                                                      application: str) -> None:
    url = tokens.guacamole_url(gateway_url, "c2VhbGVk+/=")
    assert url.split("?", 1)[0] == application
    assert parse_qs(urlsplit(url).query) == {"data": ["c2VhbGVk+/="]}
