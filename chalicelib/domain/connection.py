"""How a client reaches an offered desktop, from the protocol plan of its pool assignment.

RDP gets a `.rdp` file (the format mstsc and FreeRDP read: one `name:type:value` per line, CRLF);
VNC and SSH get host and port; HTML5 gets a signed URL on the plan's gateway (chalicelib/domain/
gateway_tokens.py). Nothing here connects to the desktop: these are instructions for the client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.domain.offer import DEFAULT_PORTS, DEFAULT_PROTOCOL

if TYPE_CHECKING:
    from chalicelib.domain.entities.plans import ProtocolPlanEntity

RDP_CONTENT_TYPE = "application/x-rdp"
# Settings the broker writes itself; a plan may not override them.
RDP_RESERVED = frozenset({"full address", "username", "alternate full address", "server port"})
OPTION_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9 _.-]{0,63}$")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ProtocolPlan:
    protocol: str = DEFAULT_PROTOCOL
    port: int = DEFAULT_PORTS[DEFAULT_PROTOCOL]
    options: dict[str, Any] = field(default_factory=dict)
    plan_id: int = 0
    name: str = "default"
    gateway_id: int = 0  # html5: the gateway the desktops are reached through

    @classmethod
    def from_plan(cls, plan: ProtocolPlanEntity) -> ProtocolPlan:
        return cls(protocol=plan.protocol, port=plan.port, options=dict(plan.options), plan_id=plan.id,
                   name=plan.name, gateway_id=plan.gateway_id)


DEFAULT_PLAN = ProtocolPlan()


def option_problems(protocol: str, options: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for each option a plan of `protocol` may not carry."""
    problems = []
    for key, value in options.items():
        if not OPTION_KEY.match(key):
            problems.append((key, "Option names start with a letter and use letters, digits, space, _ . -"))
        elif protocol == "rdp" and key.strip().lower() in RDP_RESERVED:
            problems.append((key, "The broker sets this RDP setting itself"))
        if isinstance(value, str) and ("\r" in value or "\n" in value or "\x00" in value):
            problems.append((key, "Option values must be on one line"))
    return problems


def _rdp_line(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"{key}:i:{int(value)}"
    if isinstance(value, int):
        return f"{key}:i:{value}"
    return f"{key}:s:{_one_line(str(value))}"


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ").replace("\x00", "")


def render_rdp(address: str, port: int, username: str, options: dict[str, Any] | None = None) -> str:
    """A `.rdp` file naming the desktop's address and the user; the plan's options follow."""
    lines = [f"full address:s:{_one_line(address)}:{int(port)}", f"username:s:{_one_line(username)}"]
    for key, value in sorted((options or {}).items()):
        if OPTION_KEY.match(key) and key.strip().lower() not in RDP_RESERVED:
            lines.append(_rdp_line(key, value))
    return "\r\n".join(lines) + "\r\n"


def rdp_filename(desktop_name: str) -> str:
    stem = _UNSAFE_FILENAME.sub("-", desktop_name).strip("-.") or "desktop"
    return f"{stem[:64]}.rdp"
