"""Reading a synthesized CloudFormation template with plain Python."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Template = dict[str, Any]


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def props(template: Template, logical_id: str) -> dict[str, Any]:
    return template["Resources"][logical_id].get("Properties", {})


def functions(template: Template) -> dict[str, dict[str, Any]]:
    """The Lambda functions (SAM functions, as Chalice's construct includes them), by logical id."""
    return resources(template, "AWS::Serverless::Function")


def by_property(template: Template, kind: str, name: str, value: Any) -> tuple[str, dict[str, Any]]:
    found = [
        (lid, r) for lid, r in resources(template, kind).items() if r.get("Properties", {}).get(name) == value
    ]
    assert len(found) == 1, f"{len(found)} {kind} with {name}={value!r}"
    return found[0]


def getatt(value: Any) -> tuple[str, str] | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"]
        return target, attribute
    return None


def ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, dict) else None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement anywhere in the template (roles, policies, resource policies), with where."""
    if isinstance(node, dict):
        if isinstance(node.get("Statement"), list) and ("Version" in node or path.endswith("PolicyDocument")):
            for i, statement in enumerate(node["Statement"]):
                yield f"{path}.Statement[{i}]", statement
        for key, value in node.items():
            yield from statements(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from statements(value, f"{path}[{i}]")


def role_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    policies = props(template, role_id).get("Policies", [])
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def function_role(template: Template, function_id: str) -> str:
    target = getatt(props(template, function_id)["Role"])
    assert target and target[1] == "Arn", f"{function_id}'s Role is not a role of the stack"
    assert template["Resources"][target[0]]["Type"] == "AWS::IAM::Role"
    return target[0]


def actions_on(template: Template, role_id: str) -> dict[str, list[Any]]:
    """Action -> the resources the role allows it on."""
    allowed: dict[str, list[Any]] = {}
    for statement in role_statements(template, role_id):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            allowed.setdefault(action, []).extend(as_list(statement["Resource"]))
    return allowed


def mentions(value: Any, logical_id: str) -> bool:
    """Whether a (possibly intrinsic) value refers to a resource of the template."""
    text = json.dumps(value)
    return f'"Ref": "{logical_id}"' in text or f'["{logical_id}", ' in text or f"${{{logical_id}" in text


def load(path: Path) -> Template:
    return json.loads(path.read_text())
