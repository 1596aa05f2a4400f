"""The synthesized stacks (`bash infra/synth.sh`) of stages dev and prod, checked as JSON.

Expectations come from the code, never re-typed: the tables from `table_specs()`, the handlers from
importing the Chalice app, the timeouts from `.chalice/config.json` (all read from the snapshot of the
code that synth.sh packaged, see conftest.SNAPSHOT).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.infra import cfn
from tests.infra.conftest import SNAPSHOT, STAGES

pytestmark = pytest.mark.infra

LAMBDA_ZIPPED_LIMIT = 50 * 1024 * 1024  # Lambda's limits for a direct upload / unzipped package
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
NEVER_PACKAGED = ("tests/", "localdev/", "bench/", "infra/", "agent/", "realos/", "docs/", ".chalice/")
NOT_RUNTIME = ("aws_cdk", "jsii", "constructs", "cfnlint", "chalice/cdk/", "moto", "pytest")
SECRET_WRITE = {"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret"}
QUEUE_CONSUME = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}


def configured_timeout(stage: str, handler: str) -> int:
    """A function's lambda_timeout as Chalice resolves `.chalice/config.json`."""
    config = json.loads((SNAPSHOT / ".chalice" / "config.json").read_text())
    stage_config = config.get("stages", {}).get(stage, {})
    for scope in (
        stage_config.get("lambda_functions", {}).get(handler, {}),
        stage_config,
        config.get("lambda_functions", {}).get(handler, {}),
        config,
    ):
        if "lambda_timeout" in scope:
            return int(scope["lambda_timeout"])
    return 60


def function_of(template: cfn.Template, stage: str, handler: str) -> str:
    logical_id, _ = cfn.by_property(
        template, "AWS::Serverless::Function", "FunctionName", f"broker-{stage}-{handler}"
    )
    return logical_id


def queue_named(template: cfn.Template, name: str) -> str:
    logical_id, _ = cfn.by_property(template, "AWS::SQS::Queue", "QueueName", name)
    return logical_id


def expected_handlers(declared: dict[str, Any]) -> set[str]:
    names = set(declared["schedules"]) | set(declared["sqs"]) | set(declared["pure_lambdas"])
    names |= set(declared["authorizers"]) | set(declared["other_events"])
    return names | ({"api_handler"} if declared["routes"] else set())


# --- tables ------------------------------------------------------------------------------------------


def key_schema(keys: dict[str, Any], types: dict[str, str]) -> list[dict[str, str]]:
    """The CloudFormation KeySchema of a table_specs() key set; checks the attributes' types too."""
    schema = [{"AttributeName": keys["hash"][0], "KeyType": "HASH"}]
    if "range" in keys:
        schema.append({"AttributeName": keys["range"][0], "KeyType": "RANGE"})
    for name, kind in keys.values():
        assert types[name] == kind, name
    return schema


@pytest.mark.parametrize("stage", STAGES)
def test_every_table_of_the_models_with_its_keys_indexes_and_ttl(templates, handlers, stage):
    template = templates[stage]
    specs = handlers[stage]["tables"]  # table_specs() of the packaged code
    assert specs
    tables = cfn.resources(template, "AWS::DynamoDB::Table")
    assert sorted(t["Properties"]["TableName"] for t in tables.values()) == sorted(
        f"broker-{stage}-{spec['short_name']}" for spec in specs
    )
    for spec in specs:
        _, table = cfn.by_property(
            template, "AWS::DynamoDB::Table", "TableName", f"broker-{stage}-{spec['short_name']}"
        )
        p = table["Properties"]
        assert p["BillingMode"] == "PAY_PER_REQUEST"
        assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        if spec["ttl_attribute"]:
            assert p["TimeToLiveSpecification"] == {"AttributeName": spec["ttl_attribute"], "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in p
        types = {a["AttributeName"]: a["AttributeType"] for a in p["AttributeDefinitions"]}
        assert p["KeySchema"] == key_schema(spec["keys"], types)
        for kind, prop in (("global", "GlobalSecondaryIndexes"), ("local", "LocalSecondaryIndexes")):
            wanted = {i["name"]: i for i in spec["indexes"] if i["kind"] == kind}
            present = {i["IndexName"]: i for i in p.get(prop, [])}
            assert set(present) == set(wanted), f"{spec['short_name']} {prop}"
            for name, index in wanted.items():
                assert present[name]["KeySchema"] == key_schema(index["keys"], types)
                assert present[name]["Projection"] == {"ProjectionType": index["projection"]}
                assert "ProvisionedThroughput" not in present[name]


@pytest.mark.parametrize(
    ("stage", "policy", "protected"), [("dev", "Delete", False), ("prod", "Retain", True)]
)
def test_prod_keeps_its_data_and_dev_does_not(templates, stage, policy, protected):
    for name, table in cfn.resources(templates[stage], "AWS::DynamoDB::Table").items():
        assert table["DeletionPolicy"] == policy, name
        assert table["Properties"].get("DeletionProtectionEnabled", False) is protected, name
    for name, secret in cfn.resources(templates[stage], "AWS::SecretsManager::Secret").items():
        assert secret["DeletionPolicy"] == policy, name


# --- queue -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_the_provisioning_queue_has_a_dead_letter_queue_and_outlasts_its_worker(templates, handlers, stage):
    template = templates[stage]
    assert handlers[stage]["sqs"], "the app has no SQS handler any more"
    for handler, queue_name in handlers[stage]["sqs"].items():
        queue = cfn.props(template, queue_named(template, queue_name))
        dlq_id, attribute = cfn.getatt(queue["RedrivePolicy"]["deadLetterTargetArn"])
        assert attribute == "Arn"
        assert cfn.props(template, dlq_id)["QueueName"] == f"{queue_name}-dlq"
        assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
        worker = cfn.props(template, function_of(template, stage, handler))
        assert worker["Timeout"] == configured_timeout(stage, handler)
        assert queue["VisibilityTimeout"] > worker["Timeout"]
        assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]  # AWS's advice for Lambda consumers
        # The event source is the stack's queue, not a queue looked up by name.
        events = [e for e in worker["Events"].values() if e["Type"] == "SQS"]
        assert [cfn.getatt(e["Properties"]["Queue"]) for e in events] == [
            (queue_named(template, queue_name), "Arn")
        ]


@pytest.mark.parametrize("stage", STAGES)
def test_the_app_s_queue_exists_and_every_function_knows_its_url(templates, stage):
    template = templates[stage]
    main_queue = queue_named(template, f"broker-{stage}-provisioning")
    for logical_id, function in cfn.functions(template).items():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["BROKER_STAGE"] == stage, logical_id
        assert env["BROKER_TABLE_PREFIX"] == f"broker-{stage}-", logical_id
        assert env["BROKER_QUEUE_NAME"] == f"broker-{stage}-provisioning", logical_id
        assert env["BROKER_SECRET_PREFIX"] == f"broker/{stage}/", logical_id
        assert cfn.ref(env["BROKER_QUEUE_URL"]) == main_queue, logical_id


# --- functions, schedules, roles ---------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_every_handler_is_a_function_with_its_own_role_and_log_group(templates, handlers, stage):
    template = templates[stage]
    names = {f["Properties"]["FunctionName"] for f in cfn.functions(template).values()}
    assert names == {f"broker-{stage}-{h}" for h in expected_handlers(handlers[stage])}
    roles = [cfn.function_role(template, logical_id) for logical_id in cfn.functions(template)]
    assert len(set(roles)) == len(roles), "two functions share a role"
    assert "DefaultRole" not in template["Resources"], "Chalice's own (wide) role is still there"
    log_groups = {
        g["Properties"]["LogGroupName"] for g in cfn.resources(template, "AWS::Logs::LogGroup").values()
    }
    for logical_id, function in cfn.functions(template).items():
        assert f"/aws/lambda/{function['Properties']['FunctionName']}" in log_groups
        assert any(d.endswith("Logs") for d in cfn.as_list(function.get("DependsOn", []))), logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_one_schedule_rule_per_schedule_handler(templates, handlers, stage):
    template = templates[stage]
    declared = handlers[stage]["schedules"]
    rules = cfn.resources(template, "AWS::Events::Rule")
    assert len(rules) == len(declared)
    permissions = cfn.resources(template, "AWS::Lambda::Permission")
    for handler, expression in declared.items():
        function_id = function_of(template, stage, handler)
        targeting = [
            (rid, r)
            for rid, r in rules.items()
            if [cfn.getatt(t["Arn"]) for t in r["Properties"]["Targets"]] == [(function_id, "Arn")]
        ]
        assert len(targeting) == 1, handler
        rule_id, rule = targeting[0]
        assert rule["Properties"]["ScheduleExpression"] == expression
        assert rule["Properties"]["State"] == "ENABLED"
        assert any(
            cfn.ref(p["Properties"]["FunctionName"]) == function_id
            and p["Properties"]["Principal"] == "events.amazonaws.com"
            and cfn.getatt(p["Properties"]["SourceArn"]) == (rule_id, "Arn")
            for p in permissions.values()
        )
    for logical_id, function in cfn.functions(template).items():  # no second, SAM-made rule
        assert all(e["Type"] != "Schedule" for e in function["Properties"].get("Events", {}).values()), (
            logical_id
        )


def _tables_and_indexes_only(template: cfn.Template, resources: list[Any]) -> None:
    tables = set(cfn.resources(template, "AWS::DynamoDB::Table"))
    for resource in resources:
        target = cfn.getatt(resource)
        if target is None:
            parts = resource["Fn::Join"][1]
            target = cfn.getatt(parts[0])
            assert parts[1:] == ["/index/*"], resource
        assert target[0] in tables and target[1] == "Arn", resource


@pytest.mark.parametrize("stage", STAGES)
def test_each_role_allows_only_what_its_function_does(templates, handlers, stage):
    template = templates[stage]
    main_queue = queue_named(template, f"broker-{stage}-provisioning")
    secret_arn = f":secret:broker/{stage}/"
    stack_secrets = set(cfn.resources(template, "AWS::SecretsManager::Secret"))
    for handler in expected_handlers(handlers[stage]):
        function_id = function_of(template, stage, handler)
        name = cfn.props(template, function_id)["FunctionName"]
        allowed = cfn.actions_on(template, cfn.function_role(template, function_id))
        assert all(f"log-group:/aws/lambda/{name}:*" in json.dumps(r) for r in allowed["logs:PutLogEvents"])
        assert "logs:CreateLogGroup" not in allowed  # the stack creates it, with a retention
        for action, resources in allowed.items():
            if action.startswith("dynamodb:"):
                _tables_and_indexes_only(template, resources)
            if action.startswith("secretsmanager:"):  # a secret of the stack, or a folder of the stage
                assert all(cfn.ref(r) in stack_secrets or secret_arn in json.dumps(r) for r in resources), (
                    action
                )
        assert [cfn.getatt(r) for r in allowed["sqs:SendMessage"]] == [(main_queue, "Arn")]
        assert "dynamodb:GetItem" in allowed
        consumes = handlers[stage]["sqs"].get(handler)
        if consumes:
            for action in QUEUE_CONSUME:
                assert [cfn.getatt(r) for r in allowed[action]] == [(queue_named(template, consumes), "Arn")]
        else:
            assert not QUEUE_CONSUME & set(allowed), handler
        if handler == "api_handler":
            assert set(allowed) >= SECRET_WRITE  # center and directory passwords are saved by the API
            assert "dynamodb:Scan" not in allowed  # no request path Scans
        elif handler in handlers[stage]["schedules"]:
            assert not [a for a in allowed if a.startswith("secretsmanager:")], handler  # test_edge.py


@pytest.mark.parametrize("stage", STAGES)
def test_no_iam_statement_allows_a_wildcard(templates, stage):
    template = templates[stage]
    found = list(cfn.statements(template))
    assert found, "no IAM statement found at all"
    for where, statement in found:
        assert "NotAction" not in statement and "NotResource" not in statement, where
        if statement.get("Effect") != "Allow":
            continue
        for action in cfn.as_list(statement.get("Action", [])):
            assert "*" not in action, f"{where}: {action}"
        for resource in cfn.as_list(statement.get("Resource", [])):
            assert resource != "*", f"{where}: Resource *"
            if isinstance(resource, str):
                assert ":*:" not in resource and not resource.endswith(":*:*"), f"{where}: {resource}"
    for name, role in cfn.resources(template, "AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], f"{name}: managed policies use Resource *"
    for name, function in cfn.functions(template).items():
        assert "Policies" not in function["Properties"], f"{name}: SAM would make a role of its own"


# --- secrets, alarms, outputs ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_the_secrets_made_at_deployment_are_generated(templates, stage):
    for short in ("admin-password", "token-signing-key"):
        _, secret = cfn.by_property(
            templates[stage], "AWS::SecretsManager::Secret", "Name", f"broker/{stage}/{short}"
        )
        assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 24
        assert "SecretString" not in secret["Properties"]


def _alarms(template: cfn.Template, namespace: str, metric: str) -> list[dict[str, Any]]:
    found = [
        a["Properties"]
        for a in cfn.resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == namespace and a["Properties"].get("MetricName") == metric
    ]
    for alarm in found:
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["EvaluationPeriods"] == 1
        assert [cfn.ref(a) for a in alarm["AlarmActions"]] == list(cfn.resources(template, "AWS::SNS::Topic"))
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_alarms_on_every_dead_letter_queue_and_on_the_worker_s_errors(templates, handlers, stage):
    template = templates[stage]
    dlqs = {
        cfn.getatt(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])[0]
        for q in cfn.resources(template, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert dlqs
    watched = {
        cfn.getatt(d["Value"])[0]
        for a in _alarms(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible")
        for d in a["Dimensions"]
        if d["Name"] == "QueueName"
    }
    assert watched == dlqs
    errors = {
        d["Value"]
        for a in _alarms(template, "AWS/Lambda", "Errors")
        for d in a["Dimensions"]
        if d["Name"] == "FunctionName"
    }
    workers = {f"broker-{stage}-{h}" for h in handlers[stage]["sqs"]}
    assert workers and workers <= errors
    assert errors == {f["Properties"]["FunctionName"] for f in cfn.functions(template).values()}


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_url_is_an_output(templates, stage):
    url = templates[stage]["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]
    assert url.startswith("https://${RestAPI}.execute-api.${AWS::Region}.")
    assert cfn.resources(templates[stage], "AWS::Serverless::Api").keys() == {"RestAPI"}


# --- cfn-lint and the deployment package -------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_finds_nothing(synthesized, lint_findings, stage):
    assert lint_findings[str(synthesized[stage] / f"{stage}.template.json")] == []


def deployment_package(outdir: Path, template: cfn.Template) -> Path:
    """The zip the functions run (the CDK asset their CodeUri points at)."""
    stage = outdir.name
    manifest = json.loads((outdir / f"{stage}.assets.json").read_text())
    keys = {f["Properties"]["CodeUri"]["Key"] for f in cfn.functions(template).values()}
    assert len(keys) == 1, "the functions should share one package"
    asset = manifest["files"][keys.pop().removesuffix(".zip")]
    path = outdir / asset["source"]["path"]
    assert path.suffix == ".zip" and path.is_file()
    return path


@pytest.mark.parametrize("stage", STAGES)
def test_the_deployment_package_holds_the_app_and_its_dependencies_only(synthesized, templates, stage):
    path = deployment_package(synthesized[stage], templates[stage])
    with zipfile.ZipFile(path) as package:
        infos = package.infolist()
    names = [i.filename for i in infos]
    assert "app.py" in names and any(n.startswith("chalicelib/") for n in names)
    assert [n for n in names if n.startswith(NEVER_PACKAGED)] == []
    assert [n for n in names if n.startswith(NOT_RUNTIME)] == []
    app_code = [n for n in names if n == "app.py" or n.startswith("chalicelib/")]
    assert [n for n in app_code if "__pycache__" in n or n.endswith(".pyc")] == []
    with zipfile.ZipFile(path) as package:  # the code packaged is the snapshot the tests read
        assert package.read("app.py") == (SNAPSHOT / "app.py").read_bytes()
    assert path.stat().st_size < LAMBDA_ZIPPED_LIMIT
    assert sum(i.file_size for i in infos) < LAMBDA_UNZIPPED_LIMIT
