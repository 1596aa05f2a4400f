"""infra/ derives its resources from what `chalice package` produces: checked on tests/infra/fixture_app,
which has one handler of every kind (two schedules, two queues, a pure function, a route), in a VPC.
A handler added to the broker's app gets its role, rule, queue, log group and alarm the same way."""

from __future__ import annotations

import pytest

from tests.infra import cfn
from tests.infra.conftest import FIXTURE_APP, FIXTURE_CONTEXT, declared_handlers

pytestmark = pytest.mark.infra

TIMEOUTS = {"provisioning": 200, "reports": 60}  # fixture_app/.chalice/config.json


@pytest.fixture(scope="module")
def template(fixture_synth):
    return cfn.load(fixture_synth)


@pytest.fixture(scope="module")
def declared():
    return declared_handlers(FIXTURE_APP, "dev")


def test_every_handler_gets_a_function_role_log_group_and_errors_alarm(template, declared):
    handlers = {"api_handler", *declared["schedules"], *declared["sqs"], *declared["pure_lambdas"]}
    assert handlers == {"api_handler", "every_five_minutes", "nightly", "provisioning", "reports", "plain"}
    functions = cfn.functions(template)
    assert {f["Properties"]["FunctionName"] for f in functions.values()} == {
        f"broker-dev-{h}" for h in handlers
    }
    assert len({cfn.function_role(template, f) for f in functions}) == len(handlers)
    groups = {
        g["Properties"]["LogGroupName"] for g in cfn.resources(template, "AWS::Logs::LogGroup").values()
    }
    assert groups == {f"/aws/lambda/broker-dev-{h}" for h in handlers}
    alarmed = {
        a["Properties"]["Dimensions"][0]["Value"]
        for a in cfn.resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "Errors"
    }
    assert alarmed == {f"broker-dev-{h}" for h in handlers}


def test_every_schedule_becomes_a_rule(template, declared):
    rules = cfn.resources(template, "AWS::Events::Rule")
    by_target = {
        cfn.props(template, cfn.getatt(r["Properties"]["Targets"][0]["Arn"])[0])["FunctionName"]: r[
            "Properties"
        ]["ScheduleExpression"]
        for r in rules.values()
    }
    assert by_target == {f"broker-dev-{h}": e for h, e in declared["schedules"].items()}
    assert len(declared["schedules"]) == 2


def test_every_queue_gets_a_dead_letter_queue_alarm_and_a_visibility_of_six_timeouts(template, declared):
    queues = {
        q["Properties"]["QueueName"]: q["Properties"]
        for q in cfn.resources(template, "AWS::SQS::Queue").values()
    }
    assert set(queues) == {
        "broker-dev-provisioning",
        "broker-dev-provisioning-dlq",
        "broker-dev-reports",
        "broker-dev-reports-dlq",
    }
    for handler, queue in declared["sqs"].items():
        assert queues[queue]["VisibilityTimeout"] == 6 * TIMEOUTS[handler]
        assert queues[queue]["RedrivePolicy"]["maxReceiveCount"] == 5
        role = cfn.function_role(
            template,
            next(
                lid
                for lid, f in cfn.functions(template).items()
                if f["Properties"]["FunctionName"] == f"broker-dev-{handler}"
            ),
        )
        consumed = cfn.actions_on(template, role)["sqs:ReceiveMessage"]
        assert [cfn.props(template, cfn.getatt(r)[0])["QueueName"] for r in consumed] == [queue]
    dlq_alarms = [
        a
        for a in cfn.resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Namespace"] == "AWS/SQS"
    ]
    assert len(dlq_alarms) == 2


def test_a_vpc_stage_puts_every_function_in_its_subnets(template):
    for name, function in cfn.functions(template).items():
        assert function["Properties"]["VpcConfig"] == {
            "SubnetIds": FIXTURE_CONTEXT["subnet_ids"],
            "SecurityGroupIds": FIXTURE_CONTEXT["security_group_ids"],
        }, name
    # The only "*" resource: EC2's Describe actions, which have no resource-level permission.
    for where, statement in cfn.statements(template):
        if "*" in cfn.as_list(statement.get("Resource", [])):
            assert statement["Resource"] == "*"
            assert all(a.startswith("ec2:Describe") for a in cfn.as_list(statement["Action"])), where
    emails = [s["Properties"]["Endpoint"] for s in cfn.resources(template, "AWS::SNS::Subscription").values()]
    assert emails == [FIXTURE_CONTEXT["alarm_email"]]


def test_cfn_lint_finds_nothing_in_the_vpc_variant(fixture_synth, lint_findings):
    assert lint_findings[str(fixture_synth)] == []
