"""What the broker hands a browser to open one desktop through an HTML5 gateway (pure rules, no I/O).

The broker never carries the display: a gateway next to the desktops does, and opens only what a
short-lived document signed by the broker names (docs/gateway.md):

- **noVNC + websockify**: a JWT signed with the gateway's ES256 private key, which only the broker holds;
  websockify's `JWTTokenApi` plugin verifies it with the public key and proxies the WebSocket to the
  `host` and `port` it names. It expires `NOVNC_TOKEN_SECONDS` after it is issued.
- **Apache Guacamole** (`guacamole-auth-json`): the connection as JSON, its HMAC-SHA256 prepended, then
  AES-128-CBC with a zero IV, base64: the extension's published format, under the tenant's shared key.
  `expires` is set and the document is single use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

# How long a signed token opens its desktop. It only has to reach the gateway (the browser opens the
# viewer at once); an open session is not cut when it expires.
NOVNC_TOKEN_SECONDS = 60
# websockify refuses a token before its `nbf`: a gateway whose clock is behind the broker's by up to this
# much still accepts a fresh token. It does not lengthen the token's life (that ends at `exp`).
CLOCK_SKEW_SECONDS = 30
NOVNC_ALGORITHM = "ES256"
GUACAMOLE_SECONDS = 60
GUACAMOLE_KEY_HEX_LENGTH = 32  # a 128-bit key, as `json-secret-key` in guacamole.properties


# ----------------------------------------------------------------------------------------- noVNC


def new_signing_key() -> tuple[str, str]:
    """A fresh P-256 key pair as PEM: (private PKCS#8, public SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def public_key_of(private_pem: str) -> str:
    """The verification key (public PEM) of a stored signing key."""
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(public_pem: str) -> str:
    """A short fingerprint of a verification key, shown to admins and put in each token's header (`kid`),
    so a gateway operator can tell which key a refused token was made for."""
    return hashlib.sha256(public_pem.strip().encode()).hexdigest()[:16]


def novnc_claims(*, host: str, port: int, desktop_id: int, user: str, gateway_id: int, tenant_id: int,
                 now: float) -> dict[str, Any]:
    """The claims of one token: websockify reads `host`, `port`, `exp` and `nbf`; the others say whom and
    what it was issued for (the gateway's log, an investigation)."""
    issued = int(now)
    return {
        "host": host,
        "port": int(port),
        "iat": issued,
        "nbf": issued - CLOCK_SKEW_SECONDS,
        "exp": issued + NOVNC_TOKEN_SECONDS,
        "jti": secrets.token_urlsafe(16),
        "sub": user,
        "aud": f"gateway:{gateway_id}",
        "tid": tenant_id,
        "desktop_id": desktop_id,
    }


def sign_novnc_token(private_pem: str, claims: Mapping[str, Any]) -> str:
    import jwt

    return jwt.encode(dict(claims), private_pem, algorithm=NOVNC_ALGORITHM,
                      headers={"kid": key_id(public_key_of(private_pem))})


def novnc_viewer_url(gateway_url: str, token: str, options: Mapping[str, Any] | None = None) -> str:
    """noVNC's viewer on the gateway, told to connect at once through websockify with the token.

    The parameters go in the fragment, which the browser never sends (noVNC reads both): the token stays
    out of the viewer page's request and the gateway's access log; only the WebSocket request carries it.
    websockify serves the viewer's files and the WebSocket on one port, under the gateway URL's path."""
    parts = urlsplit(gateway_url)
    prefix = parts.path.strip("/")
    base = gateway_url.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    websocket_path = f"{prefix}/websockify" if prefix else "websockify"
    settings: dict[str, Any] = {"autoconnect": "true", "reconnect": "false", "resize": "scale"}
    for name in ("resize", "view_only", "quality", "compression", "show_dot"):
        value = (options or {}).get(f"novnc_{name}")
        if value is not None:
            settings[name] = str(value).lower() if isinstance(value, bool) else str(value)
    settings["path"] = f"{websocket_path}?token={token}"
    return f"{base}/vnc.html#{urlencode(settings, quote_via=quote)}"


# -------------------------------------------------------------------------------------- Guacamole


def valid_guacamole_key(key_hex: str) -> bool:
    try:
        return len(key_hex) == GUACAMOLE_KEY_HEX_LENGTH and len(bytes.fromhex(key_hex)) == 16
    except ValueError:
        return False


def guacamole_document(*, username: str, connection_name: str, protocol: str, parameters: Mapping[str, str],
                       now: float) -> bytes:
    """The JSON of one single-use connection that expires GUACAMOLE_SECONDS from now (milliseconds)."""
    document = {
        "username": username,
        "expires": int(now * 1000) + GUACAMOLE_SECONDS * 1000,
        "singleUse": True,
        "connections": {
            connection_name: {"protocol": protocol, "parameters": {k: str(v) for k, v in parameters.items()},
                              "singleUse": True},
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def seal_guacamole(key_hex: str, document: bytes) -> str:
    """guacamole-auth-json's format: HMAC-SHA256 of the JSON, prepended to it, AES-128-CBC (zero IV,
    PKCS#7 padding), base64."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes.fromhex(key_hex)
    signed = hmac.new(key, document, hashlib.sha256).digest() + document
    padder = padding.PKCS7(128).padder()
    padded = padder.update(signed) + padder.finalize()
    # The extension fixes the IV at zero; a fresh HMAC and expiry in every document keep equal inputs rare.
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def open_guacamole(key_hex: str, sealed: str) -> bytes | None:
    """The JSON of a sealed document if its signature holds under the key (what the extension checks)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes.fromhex(key_hex)
    try:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
        padded = decryptor.update(base64.b64decode(sealed, validate=True)) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        signed = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        return None
    signature, document = signed[:32], signed[32:]
    if not document or not hmac.compare_digest(signature, hmac.new(key, document, hashlib.sha256).digest()):
        return None
    return document


def guacamole_url(gateway_url: str, sealed: str) -> str:
    """Guacamole's web application with the sealed document as its `data` parameter: the page posts it to
    `/api/tokens` itself and, the user having one connection, opens it."""
    base = gateway_url.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    return f"{base}/?{urlencode({'data': sealed})}"
