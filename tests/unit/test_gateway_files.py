"""gateway/: the cloud-init file carries the same unit and egress rules as the files beside it, and runs
websockify as make run and the gateway tests do (the same plugin, key file and web root)."""

from __future__ import annotations

from pathlib import Path

from localdev.live_desktop import gateway_command

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"


def _without_comments(text: str) -> list[str]:
    lines = [line.split(" #", 1)[0].rstrip() if not line.lstrip().startswith("#") else "" for line in
             text.splitlines()]
    return [line for line in lines if line.strip()]


def _written_file(path: str) -> str:
    """The `content: |` block of cloud-init.yaml's write_files entry for `path`."""
    lines = (GATEWAY / "cloud-init.yaml").read_text().splitlines()
    start = lines.index(f"  - path: {path}")
    content = next(i for i in range(start, len(lines)) if lines[i].strip() == "content: |")
    block = []
    for line in lines[content + 1:]:
        if line.strip() and not line.startswith("      "):
            break
        block.append(line[6:])
    return "\n".join(block)


def test_cloud_init_carries_the_unit_and_the_egress_rules_as_they_are() -> None:
    assert _without_comments(_written_file("/etc/systemd/system/vdi-gateway.service")) == _without_comments(
        (GATEWAY / "vdi-gateway.service").read_text())
    assert _without_comments(_written_file("/etc/nftables.d/vdi-gateway.nft")) == _without_comments(
        (GATEWAY / "nftables-gateway.conf").read_text())


def test_the_unit_runs_websockify_as_make_run_does() -> None:
    unit = (GATEWAY / "vdi-gateway.service").read_text().replace("\\\n", " ")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    arguments = exec_start.removeprefix("ExecStart=").split()
    local = gateway_command(Path("/etc/vdi-gateway/broker-verification-key.pem"), "127.0.0.1", 6080)
    assert arguments[: len(local) - 1] == local[:-1]  # all but the listening address
    assert "--ssl-only" in arguments and arguments[-1] == "0.0.0.0:443"
    cloud_init = (GATEWAY / "cloud-init.yaml").read_text()
    for package in ("novnc", "websockify", "python3-jwcrypto"):
        assert f"  - {package}\n" in cloud_init
