"""The edge and the narrowed roles, checked on the synthesized templates (docs/deploy.md).

- API Gateway throttles: the stage, and a tighter one on each login route;
- reserved concurrency: the API capped, the worker and each schedule with capacity of their own;
- the optional WAF rule: absent by default, present with `waf_enabled` (a rate-based rule on the login
  routes, associated with the API's stage);
- IAM: each function touches only the secrets its code uses; no function may delete or rewrite an
  audit event.

Expected values come from `infra/cdk.json` (stages dev and prod) and from conftest.EDGE_CONTEXT (prod
synthesized with other values given as `-c key=value`), never from the stack's own code.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra import cfn
from tests.infra.conftest import EDGE_CONTEXT, INFRA, STAGES

pytestmark = pytest.mark.infra

# The routes a flood hurts most: a password hash or a token check per request, before any session.
LOGIN_ROUTES = [
    ("POST", "/client/v1/login"),
    ("POST", "/rest/v1/session/login"),
    ("POST", "/agent/v1/register"),
]
# Counted per client IP by the optional WAF rule (agents share NAT addresses: not counted).
WAF_ROUTES = LOGIN_ROUTES[:2]
AUDIT_TABLE_ACTIONS = {  # reading, and adding an event: nothing that deletes or rewrites one
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Scan",
    "dynamodb:PutItem",
}
SECRET_WRITE = {"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret"}


def stage_context(stage: str) -> dict[str, Any]:
    return json.loads((INFRA / "cdk.json").read_text())["context"]["stages"][stage]


@pytest.fixture(scope="module")
def edge(edge_synth) -> cfn.Template:
    return cfn.load(edge_synth)


def function_named(template: cfn.Template, name: str) -> tuple[str, dict[str, Any]]:
    return cfn.by_property(template, "AWS::Serverless::Function", "FunctionName", name)


def functions_of_kind(template: cfn.Template, stage: str, handlers: dict[str, Any]) -> dict[str, list[str]]:
    """Function logical ids by kind: api, worker (SQS), schedule."""
    return {
        "api": [function_named(template, f"broker-{stage}-api_handler")[0]],
        "worker": [function_named(template, f"broker-{stage}-{h}")[0] for h in handlers["sqs"]],
        "schedule": [function_named(template, f"broker-{stage}-{h}")[0] for h in handlers["schedules"]],
    }


def method_settings(template: cfn.Template) -> dict[tuple[str, str], dict[str, Any]]:
    """The stage's MethodSettings by (method, resource path), the path decoded ('~1' is '/')."""
    settings = cfn.props(template, "RestAPI")["MethodSettings"]
    by_route = {}
    for item in settings:
        path = item["ResourcePath"]
        decoded = path if path == "/*" else path[1:].replace("~1", "/")
        assert path == "/*" or path[1:].startswith("~1"), f"not CloudFormation's encoding: {path}"
        by_route[(item["HttpMethod"], decoded)] = item
    assert len(by_route) == len(settings), "a route is throttled twice"
    return by_route


def routes(template: cfn.Template) -> set[tuple[str, str]]:
    paths = cfn.props(template, "RestAPI")["DefinitionBody"]["paths"]
    return {(method.upper(), path) for path, methods in paths.items() for method in methods}


def check_throttles(template: cfn.Template, expected: dict[str, Any]) -> None:
    by_route = method_settings(template)
    assert set(by_route) == {("*", "/*"), *LOGIN_ROUTES}
    stage_wide = by_route[("*", "/*")]
    assert stage_wide["ThrottlingRateLimit"] == float(expected["api_rate_limit"])
    assert stage_wide["ThrottlingBurstLimit"] == int(expected["api_burst_limit"])
    for route in LOGIN_ROUTES:
        assert route in routes(template), f"{route} is no route of the app any more"
        assert by_route[route]["ThrottlingRateLimit"] == float(expected["login_rate_limit"]), route
        assert by_route[route]["ThrottlingBurstLimit"] == int(expected["login_burst_limit"]), route
        assert by_route[route]["ThrottlingRateLimit"] < stage_wide["ThrottlingRateLimit"]
        assert by_route[route]["ThrottlingBurstLimit"] < stage_wide["ThrottlingBurstLimit"]


# --- throttles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_and_each_login_route_are_throttled(templates, stage):
    check_throttles(templates[stage], stage_context(stage))


def test_throttles_come_from_the_context(edge):
    check_throttles(edge, EDGE_CONTEXT)


# --- reserved concurrency ----------------------------------------------------------------------------


def _reservation(value: Any) -> int | None:
    return None if value in (None, "none", "off") else int(value)


def check_reservations(template: cfn.Template, stage: str, handlers: dict[str, Any], expected: dict) -> None:
    kinds = functions_of_kind(template, stage, handlers)
    assert kinds["worker"] and kinds["schedule"]
    wanted = {kind: _reservation(expected[f"{kind}_reserved_concurrency"]) for kind in kinds}
    assert wanted["api"] is not None, "the API must be capped"
    for kind, logical_ids in kinds.items():
        for logical_id in logical_ids:
            props = cfn.props(template, logical_id)
            assert props.get("ReservedConcurrentExecutions") == wanted[kind], (kind, logical_id)
            for event in props.get("Events", {}).values():
                if event["Type"] == "SQS":  # the pollers stop at the reservation instead of being throttled
                    scaling = event["Properties"].get("ScalingConfig")
                    if wanted[kind] is None:
                        assert scaling is None
                    else:
                        assert scaling == {"MaximumConcurrency": wanted[kind]}
    for logical_id in set(cfn.functions(template)) - {i for ids in kinds.values() for i in ids}:
        assert "ReservedConcurrentExecutions" not in cfn.props(template, logical_id), logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_is_capped_and_the_worker_and_schedules_keep_capacity(templates, handlers, stage):
    context = stage_context(stage)
    check_reservations(templates[stage], stage, handlers[stage], context)
    # The API's cap leaves the worker and the schedules their own slots: the reservations hold however
    # many requests arrive, and a flood of logins cannot starve them.
    assert int(context["worker_reserved_concurrency"]) >= 2
    assert int(context["schedule_reserved_concurrency"]) >= 1


def test_reservations_come_from_the_context_and_can_be_left_out(edge, handlers):
    check_reservations(edge, "prod", handlers["prod"], EDGE_CONTEXT)


# --- the optional firewall ---------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_no_firewall_by_default(templates, stage):
    assert not [r for r in templates[stage]["Resources"].values() if r["Type"].startswith("AWS::WAFv2::")]
    assert stage_context(stage)["waf_enabled"] is False


def test_the_flag_adds_a_rate_based_rule_on_the_logins_associated_with_the_stage(edge):
    acls = cfn.resources(edge, "AWS::WAFv2::WebACL")
    assert len(acls) == 1
    acl_id, acl = next(iter(acls.items()))
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    [rule] = props["Rules"]
    assert rule["Action"] == {"Block": {}}
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == int(EDGE_CONTEXT["waf_login_limit"])
    assert rate["AggregateKeyType"] == "IP"
    assert rate["EvaluationWindowSec"] == 300
    scope = rate["ScopeDownStatement"]
    matches = [s["ByteMatchStatement"] for s in scope["OrStatement"]["Statements"]]
    assert {m["SearchString"] for m in matches} == {path for _, path in WAF_ROUTES}
    for match in matches:
        assert match["FieldToMatch"] == {"UriPath": {}} and match["PositionalConstraint"] == "CONTAINS"

    [association] = cfn.resources(edge, "AWS::WAFv2::WebACLAssociation").values()
    assert cfn.getatt(association["Properties"]["WebACLArn"]) == (acl_id, "Arn")
    stage_name = cfn.props(edge, "RestAPI")["StageName"]
    parts = association["Properties"]["ResourceArn"]["Fn::Join"][1]
    assert {"Ref": "RestAPI"} in parts and parts[-1] == f"/stages/{stage_name}"
    assert ":apigateway:" in json.dumps(parts) and "::/restapis/" in json.dumps(parts)
    # Associated once the SAM transform made the stage.
    assert association["DependsOn"] == [f"RestAPI{stage_name}Stage"]


def test_cfn_lint_finds_nothing_with_the_edge_settings(edge_synth, lint_findings):
    assert lint_findings[str(edge_synth)] == []


# --- IAM: secrets and the audit log --------------------------------------------------------------------


def _secret_grants(template: cfn.Template, role: str) -> dict[str, set[str]]:
    """secretsmanager action -> what it is allowed on: a secret of the stack by its short name
    ("admin-password"), or a folder under the stage's prefix ("center/*")."""
    secrets = cfn.resources(template, "AWS::SecretsManager::Secret")
    names = {logical_id: secret["Properties"]["Name"] for logical_id, secret in secrets.items()}
    grants: dict[str, set[str]] = {}
    for action, resources in cfn.actions_on(template, role).items():
        if not action.startswith("secretsmanager:"):
            continue
        for resource in resources:
            target = cfn.ref(resource)
            if target is not None:
                full = names[target]
            else:
                text = resource["Fn::Join"][1][-1]
                assert text.startswith(":secret:"), resource
                full = text.removeprefix(":secret:")
            grants.setdefault(action, set()).add(full)
    return grants


@pytest.mark.parametrize("stage", STAGES)
def test_each_function_touches_only_the_secrets_its_code_uses(templates, handlers, stage):
    template = templates[stage]
    kinds = functions_of_kind(template, stage, handlers[stage])
    prefix = f"broker/{stage}/"
    [api] = kinds["api"]
    assert _secret_grants(template, cfn.function_role(template, api)) == {
        # the first admin login, the token signing key, the directories' bind passwords, the gateways' keys
        "secretsmanager:GetSecretValue": {
            f"{prefix}admin-password",
            f"{prefix}token-signing-key",
            f"{prefix}auth-server/*",
            f"{prefix}gateway/*",
        },
        "secretsmanager:DescribeSecret": {f"{prefix}admin-password"},  # the health check
        **{action: {f"{prefix}center/*", f"{prefix}auth-server/*", f"{prefix}gateway/*"}
           for action in SECRET_WRITE},
    }
    for worker in kinds["worker"]:
        assert _secret_grants(template, cfn.function_role(template, worker)) == {
            "secretsmanager:GetSecretValue": {f"{prefix}center/*"}
        }
    for schedule in kinds["schedule"]:
        assert _secret_grants(template, cfn.function_role(template, schedule)) == {}


def test_the_secret_folders_are_those_the_code_writes(monkeypatch):
    """The names the services give their secrets fall in the folders the roles allow."""
    from chalicelib.services import auth_servers, centers, gateways, tokens
    from chalicelib.settings import reset_settings

    monkeypatch.setenv("BROKER_SECRET_PREFIX", "broker/prod/")
    reset_settings()
    try:
        assert centers.center_secret_name(7, 42).startswith("broker/prod/center/")
        assert auth_servers.server_secret_name(7, 42).startswith("broker/prod/auth-server/")
        assert gateways.gateway_secret_name(7, 42).startswith("broker/prod/gateway/")
        assert tokens.KEY_SECRET == "token-signing-key"
    finally:
        monkeypatch.undo()
        reset_settings()


@pytest.mark.parametrize("stage", STAGES)
def test_the_functions_never_create_the_deployed_secrets_and_start_after_them(templates, stage):
    from chalicelib.settings import get_settings, reset_settings

    template = templates[stage]
    secrets = set(cfn.resources(template, "AWS::SecretsManager::Secret"))
    assert len(secrets) == 2
    for logical_id, function in cfn.functions(template).items():
        assert secrets <= set(cfn.as_list(function.get("DependsOn", []))), logical_id
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["BROKER_DEPLOYED_SECRETS"] == "1", logical_id
    # ... which is the variable the code reads
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BROKER_DEPLOYED_SECRETS", "1")
        reset_settings()
        assert get_settings().deployed_secrets is True
    reset_settings()
    assert get_settings().deployed_secrets is False


@pytest.mark.parametrize("stage", STAGES)
def test_no_function_may_delete_or_rewrite_an_audit_event(templates, stage):
    template = templates[stage]
    _, audit = cfn.by_property(template, "AWS::DynamoDB::Table", "TableName", f"broker-{stage}-audit")
    audit_id = next(lid for lid, r in template["Resources"].items() if r is audit)
    for function_id in cfn.functions(template):
        allowed = cfn.actions_on(template, cfn.function_role(template, function_id))
        on_audit = {a for a, targets in allowed.items() if any(cfn.mentions(r, audit_id) for r in targets)}
        assert "dynamodb:PutItem" in on_audit, function_id  # every function may add events
        assert on_audit <= AUDIT_TABLE_ACTIONS, (function_id, sorted(on_audit - AUDIT_TABLE_ACTIONS))
