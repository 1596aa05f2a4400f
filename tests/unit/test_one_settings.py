"""One settings object: the environment is read in chalicelib/settings.py only, where each variable is a
named field with its default (docs/design.md)."""

from __future__ import annotations

import ast
from pathlib import Path

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"


def _environment_reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        attribute = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")
        imported = isinstance(node, ast.ImportFrom) and node.module == "os" and any(
            alias.name in ("environ", "getenv") for alias in node.names)
        if attribute or imported:
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment() -> None:
    found = {str(path.relative_to(CHALICELIB)): lines for path in sorted(CHALICELIB.rglob("*.py"))
             if path.name != "settings.py" and (lines := _environment_reads(path))}
    assert found == {}


def test_the_moved_variables_are_settings_with_their_defaults(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from chalicelib.settings import read_settings

    for name in ("BROKER_POOL_CHECK_PENDING_SECONDS", "BROKER_CLIENT_RETRY_AFTER_SECONDS", "BROKER_LOG_LEVEL",
                 "BROKER_CLIENT_CACHE_SECONDS", "BROKER_AUDIT_UNAUTHENTICATED_PER_MINUTE"):
        monkeypatch.delenv(name, raising=False)
    defaults = read_settings()
    assert (defaults.pool_check_pending_seconds, defaults.client_retry_after_seconds,
            defaults.client_cache_seconds, defaults.audit_unauthenticated_per_minute,
            defaults.log_level) == (60, 30, 120.0, 60, "INFO")
    monkeypatch.setenv("BROKER_POOL_CHECK_PENDING_SECONDS", "3600")
    monkeypatch.setenv("BROKER_LOG_LEVEL", "warning")
    assert read_settings().pool_check_pending_seconds == 3600
    assert read_settings().log_level == "WARNING"
