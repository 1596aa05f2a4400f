"""One clock (issue 13): every rule that reads the time of day reads `chalicelib.clock.time()`, which a test
controls. Durations (timeouts, cache lifetimes, a request's milliseconds) may use the monotonic counters."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WALL_CLOCK = re.compile(r"\btime\.time\(\)|\bdatetime\.(now|utcnow|today)\(|\bdate\.today\(")


def test_no_module_but_the_clock_reads_the_wall_clock() -> None:
    modules = [path for path in (ROOT / "chalicelib").rglob("*.py") if path.name != "clock.py"]
    readers = sorted(f"{path.relative_to(ROOT)}:{number}" for path in modules
                     for number, line in enumerate(path.read_text().splitlines(), 1)
                     if WALL_CLOCK.search(line))
    assert readers == []


def test_the_pattern_finds_what_it_is_for() -> None:
    assert all(WALL_CLOCK.search(line) for line in ("now = time.time()", "datetime.now(UTC)", "date.today()"))
    assert not any(WALL_CLOCK.search(line) for line in ("clock.time()", "time.monotonic()", "epoch_of(x)"))
