"""Print, as JSON, the Lambda handlers a Chalice project declares (run as a script, in a subprocess,
so that importing the app touches neither the test process's modules nor its logging).

    python tests/infra/app_handlers.py PROJECT_DIR STAGE

The infra tests compare this with the synthesized template: every handler must have become a function
with its own role, every schedule a schedule, every queue a queue, every table of `table_specs()` a
table. They read the snapshot synth.sh packaged (infra/.build/source), so that an edit made to the tree
while the tests run cannot make template and code disagree.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any


def handlers(project_dir: Path, stage: str) -> dict[str, Any]:
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    # As `chalice package` does: the stage's environment is set before the app is imported.
    os.environ.update(config.get("environment_variables", {}))
    os.environ.update(config.get("stages", {}).get(stage, {}).get("environment_variables", {}))
    sys.path.insert(0, str(project_dir))
    from chalice.app import ScheduledEventConfig, SQSEventConfig

    app = importlib.import_module("app").app
    schedules, queues, others = {}, {}, []
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            schedules[source.name] = expression if isinstance(expression, str) else expression.to_string()
        elif isinstance(source, SQSEventConfig):
            queues[source.name] = source.queue or source.queue_arn.rsplit(":", 1)[-1]
        else:
            others.append(source.name)
    try:
        from chalicelib.store.tables import table_specs
    except ImportError:  # a project without the broker's tables (tests/infra/fixture_app)
        tables = None
    else:
        tables = table_specs()
    return {
        "tables": tables,
        "routes": sum(len(methods) for methods in app.routes.values()),
        "schedules": schedules,
        "sqs": queues,
        "other_events": sorted(others),
        "pure_lambdas": sorted(f.name for f in app.pure_lambda_functions),
        "authorizers": sorted(a.name for a in app.builtin_auth_handlers),
    }


if __name__ == "__main__":
    print(json.dumps(handlers(Path(sys.argv[1]).resolve(), sys.argv[2])))
