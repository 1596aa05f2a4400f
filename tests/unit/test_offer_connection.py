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


def test_a_stored_protocol_plan_is_read_with_every_field() -> None:
    def read(plan_id: int, name: str, doc: dict) -> connection.ProtocolPlan:
        return connection.ProtocolPlan.from_plan(ProtocolPlanEntity.from_stored(
            doc, tenant_id=1, id=plan_id, name=name, kind="protocol"))

    doc = {"protocol": "vnc", "port": 5901, "options": {"quality": 5}, "gateway_id": 0}
    assert read(4, "vnc plan", doc) == connection.ProtocolPlan(
        protocol="vnc", port=5901, options={"quality": 5}, plan_id=4, name="vnc plan", gateway_id=0)
    bare = read(2, "bare", {})
    assert bare == connection.ProtocolPlan(protocol="rdp", port=3389, options={}, plan_id=2, name="bare",
                                           gateway_id=0)
    web = read(3, "web", {"protocol": "html5", "options": {"remote_protocol": "rdp"}})
    assert web.port == 3389  # the port of the protocol the gateway speaks to the desktop


def test_an_html5_plan_with_an_unknown_remote_protocol_uses_vnc_s_port() -> None:
    assert offer.default_port("html5", {"remote_protocol": "telnet"}) == 5900


def test_each_option_problem_says_what_is_wrong() -> None:
    options = {"bad:key": 1, "username": "x", "note": "a\rb", "nul": "a\x00b"}
    assert connection.option_problems("rdp", options) == [
        ("bad:key", "Option names start with a letter and use letters, digits, space, _ . -"),
        ("username", "The broker sets this RDP setting itself"),
        ("note", "Option values must be on one line"),
        ("nul", "Option values must be on one line"),
    ]


def test_an_rdp_value_keeps_to_its_line() -> None:
    text = connection.render_rdp("203.0.113.5", 3389, "al\rice\x00", {"note": "a\r\nb\x00c"})
    assert text.split("\r\n")[1] == "username:s:al ice"
    assert "note:s:a  bc" in text.split("\r\n")


def test_rdp_filenames_are_trimmed_and_at_most_64_characters_before_the_extension() -> None:
    assert connection.rdp_filename("-.desk X.-") == "desk-X.rdp"
    assert connection.rdp_filename("d" * 80) == "d" * 64 + ".rdp"
