"""The modules of chalicelib import each other without a cycle (issue 13: a reader follows a request down the
layers of ARCHITECTURE.md, never round in a circle). Every import counts: at module level, under
TYPE_CHECKING and inside a function (a deferred import is still a dependency)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: str = "chalicelib") -> dict[str, set[str]]:
    """module -> the modules of `package` it imports (`from a import b` counts `a.b` when that is one)."""
    modules = {module_name(path): path for path in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}: relative import"
                assert node.module is not None
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def test_no_module_of_chalicelib_imports_itself_round_a_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 100 and "chalicelib.services.provisioning" in graph["chalicelib.jobs.handlers"]
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise AssertionError(f"import cycle: {' -> '.join(error.args[1])}") from None


def test_the_domain_imports_nothing_above_it() -> None:
    """ARCHITECTURE.md: the domain is pure; it imports no store, service, API, job, cloud or auth module."""
    upward = tuple(f"chalicelib.{layer}" for layer in ("store", "services", "api", "jobs", "clouds", "auth"))
    found = {module: sorted(t for t in targets if t.startswith(upward))
             for module, targets in import_graph().items() if module.startswith("chalicelib.domain")}
    assert {module: targets for module, targets in found.items() if targets} == {}
