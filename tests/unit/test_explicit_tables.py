"""Tables instead of registration by import side effect (docs/design.md): what handles a queue message,
who authenticates a route and how a plan kind is checked does not depend on which module was imported
first. The fresh-interpreter probes import only the module under test, as a Lambda's first call might."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from chalicelib.domain import messages

ROOT = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_handler_table_does_not_import_the_worker() -> None:
    assert not any(name.startswith("chalicelib.jobs.worker")
                   for name in _imported_modules(ROOT / "chalicelib/jobs/handlers.py"))


def test_the_worker_finds_a_handler_for_every_message_type() -> None:
    from chalicelib.jobs import worker

    types = [value for name, value in vars(messages).items() if name.isupper() and isinstance(value, str)]
    assert len(types) >= 6
    for message_type in types:
        assert worker.handler_for(message_type) is not None, message_type
    assert worker.handler_for("no.such.type") is None


def test_every_access_kind_has_its_authenticator_without_importing_the_routes() -> None:
    outcome = _fresh(
        "import json, sys\n"
        "from chalicelib.api import framework\n"
        "print(json.dumps({'kinds': sorted(k.value for k in framework.Access"
        " if k is not framework.Access.PUBLIC and k in framework.AUTHENTICATORS),"
        " 'all': sorted(k.value for k in framework.Access if k is not framework.Access.PUBLIC),"
        " 'routes': 'chalicelib.api.routes' in sys.modules}))\n"
    )
    assert outcome["routes"] is False
    assert outcome["kinds"] == outcome["all"]


def test_a_release_plan_is_checked_before_the_lifecycle_service_is_imported() -> None:
    """The plans service alone refuses a release or power-control plan with a delay and no action."""
    outcome = _fresh(
        "import json, sys\n"
        "from chalicelib.domain.errors import BadData\n"
        "from chalicelib.domain.entities.plans import PLAN_CLASSES\n"
        "from chalicelib.services import plans\n"
        "paths = {}\n"
        "for kind in ('release', 'power_control'):\n"
        "    plan = PLAN_CLASSES[kind](tenant_id=1, name='p',\n"
        "                              on_disconnect={'action': 'none', 'after_minutes': 5})\n"
        "    try:\n"
        "        plans._check(1, plan)\n"
        "        paths[kind] = None\n"
        "    except BadData as error:\n"
        "        paths[kind] = [e.path for e in error.errors]\n"
        "print(json.dumps({'paths': paths,"
        " 'lifecycle_loaded': 'chalicelib.services.lifecycle_plans' in sys.modules}))\n"
    )
    assert outcome["lifecycle_loaded"] is False
    assert outcome["paths"] == {"release": ["/body/on_disconnect/after_minutes"],
                                "power_control": ["/body/on_disconnect/after_minutes"]}
