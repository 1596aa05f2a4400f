"""What `chalice package` produced, read as plain data: the Lambda functions, what triggers each, and
the settings Chalice resolved from `.chalice/config.json` (timeouts, environment).

The stack derives everything it builds around the functions from here (roles, queues, log groups,
alarms), so a handler added to the app gets its infrastructure without anyone editing `infra/`.
No CDK import: this module is plain Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

API_HANDLER = "APIHandler"  # the logical id Chalice gives the function behind every route

# Function kinds. Each kind gets its own least-privilege role (see stack.py).
API = "api"  # the REST API's handler
WORKER = "worker"  # consumes one or more SQS queues
SCHEDULE = "schedule"  # runs on an EventBridge schedule
OTHER = "other"  # anything else Chalice may produce (authorizers, pure lambda functions, ...)

# arn:<partition>:sqs:<region>:<account>:<name>, where the first three may be ${AWS::...} substitutions.
_QUEUE_ARN = re.compile(
    r"^arn:(\$\{[^}]+\}|[^:$]+):sqs:(\$\{[^}]+\}|[^:$]*):(\$\{[^}]+\}|[^:$]*):"
    r"(?P<name>[A-Za-z0-9_-]{1,80}(\.fifo)?)$"
)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler_name: str  # the Python function's name; "api_handler" for the REST API
    kind: str
    timeout: int
    environment: dict[str, str]
    sqs_events: dict[str, str] = field(default_factory=dict)  # event name -> queue name
    schedule_events: dict[str, str] = field(default_factory=dict)  # event name -> schedule expression
    other_events: dict[str, str] = field(default_factory=dict)  # event name -> SAM event type


def queue_name(queue: Any) -> str:
    """The queue's name from the `Queue` of a SAM SQS event: a `Fn::Sub` of the ARN (Chalice's
    `on_sqs_message(queue=...)`) or a literal ARN (`queue_arn=...`)."""
    text = queue.get("Fn::Sub") if isinstance(queue, dict) else queue
    if isinstance(text, list):
        text = text[0]
    match = _QUEUE_ARN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"cannot tell the queue's name from {queue!r}")
    return match.group("name")


def read_functions(template: dict[str, Any]) -> list[FunctionSpec]:
    """Every `AWS::Serverless::Function` of a Chalice SAM template, sorted by logical id."""
    specs = []
    for logical_id, resource in sorted(template.get("Resources", {}).items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        sqs, schedules, others = {}, {}, {}
        for event_name, event in sorted((props.get("Events") or {}).items()):
            event_type = event.get("Type")
            if event_type == "SQS":
                sqs[event_name] = queue_name(event["Properties"]["Queue"])
            elif event_type == "Schedule":
                schedules[event_name] = event["Properties"]["Schedule"]
            else:
                others[event_name] = str(event_type)
        if logical_id == API_HANDLER:
            kind, handler_name = API, "api_handler"
        else:
            handler_name = props["Handler"].rsplit(".", 1)[-1]
            kind = WORKER if sqs else SCHEDULE if schedules else OTHER
        specs.append(
            FunctionSpec(
                logical_id=logical_id,
                handler_name=handler_name,
                kind=kind,
                timeout=int(props.get("Timeout", 60)),
                environment=dict((props.get("Environment") or {}).get("Variables") or {}),
                sqs_events=sqs,
                schedule_events=schedules,
                other_events=others,
            )
        )
    return specs


def common_environment(functions: list[FunctionSpec], name: str) -> str | None:
    """The value every function has for an environment variable (None if none sets it); two
    functions that disagree are a configuration error, since they share the tables and queues."""
    values = {f.environment[name] for f in functions if name in f.environment}
    if len(values) > 1:
        raise ValueError(f"functions disagree on {name}: {sorted(values)}")
    return values.pop() if values else None


@dataclass(frozen=True)
class ApiSpec:
    """The REST API Chalice made (one `AWS::Serverless::Api`): its stage and its routes."""

    logical_id: str
    stage_name: str
    routes: frozenset[tuple[str, str]]  # (METHOD, /path) as the swagger definition has them


def api_resource(template: dict[str, Any]) -> ApiSpec | None:
    """The app's REST API, or None for an app without routes."""
    apis = [
        (logical_id, resource["Properties"])
        for logical_id, resource in sorted(template.get("Resources", {}).items())
        if resource.get("Type") == "AWS::Serverless::Api"
    ]
    if not apis:
        return None
    if len(apis) > 1:
        raise ValueError(f"expected one REST API, found {[logical_id for logical_id, _ in apis]}")
    logical_id, props = apis[0]
    paths = (props.get("DefinitionBody") or {}).get("paths") or {}
    routes = frozenset(
        (method.upper(), path)
        for path, methods in paths.items()
        for method in methods
        if method.lower() in ("get", "put", "post", "delete", "patch", "head", "options")
    )
    return ApiSpec(logical_id=logical_id, stage_name=str(props.get("StageName", "api")), routes=routes)
