"""Connection details: the .rdp file, the HTML5 URL, and the option checks of protocol plans."""

from __future__ import annotations

from chalicelib.domain import connection, offer
from chalicelib.domain.entities.plans import ProtocolPlanEntity


def test_rdp_file_names_the_address_port_and_user() -> None:
    text = connection.render_rdp(
        "203.0.113.5",
        3390,
        "alice",
        {"screen mode id": 2, "redirectclipboard": True, "gatewayhostname": "gw.example"},
    )
    lines = text.split("\r\n")
    assert lines[0] == "full address:s:203.0.113.5:3390"
    assert lines[1] == "username:s:alice"
    assert "screen mode id:i:2" in lines and "redirectclipboard:i:1" in lines
    assert "gatewayhostname:s:gw.example" in lines
    assert text.endswith("\r\n")


def test_rdp_file_cannot_be_injected_into() -> None:
    text = connection.render_rdp(
        "203.0.113.5",
        3389,
        "eve\r\nfull address:s:evil:1",
        {"full address": "x", "bad:key": "y", "note": "a\nb"},
    )
    assert [line for line in text.split("\r\n") if line.startswith("full address")] == [
        "full address:s:203.0.113.5:3389"
    ]
    assert "evil" in text.split("\r\n")[1]  # stays inside the username line
    assert "bad:key" not in text
    assert "note:s:a b" in text


def test_option_problems() -> None:
    assert connection.option_problems("rdp", {"screen mode id": 2}) == []
    assert [k for k, _ in connection.option_problems("rdp", {"Full Address": "x"})] == ["Full Address"]
    assert [k for k, _ in connection.option_problems("vnc", {"a:b": 1})] == ["a:b"]
    assert [k for k, _ in connection.option_problems("ssh", {"banner": "x\ny"})] == ["banner"]
    assert connection.option_problems("vnc", {"username": "x"}) == []


def test_an_html5_plan_defaults_to_the_port_of_its_remote_protocol() -> None:
    assert offer.default_port("html5") == 5900
    assert offer.default_port("html5", {"remote_protocol": "rdp"}) == 3389
    stored = ProtocolPlanEntity.from_stored({"protocol": "html5", "gateway_id": 7}, tenant_id=1, id=3,
                                            name="web", kind="protocol")
    plan = connection.ProtocolPlan.from_plan(stored)
    assert (plan.port, plan.gateway_id, plan.plan_id, plan.name) == (5900, 7, 3, "web")


def test_rdp_filename_is_safe() -> None:
    assert connection.rdp_filename("desk 001/../x") == "desk-001-..-x.rdp"
    assert connection.rdp_filename("..") == "desktop.rdp"
