"""The broker's CloudFormation stack for one stage.

Chalice's CDK construct packages the app (`chalice package`) and includes its SAM template: the REST
API, one Lambda function per handler, and the event sources (SQS, schedules). Around it this stack
builds what the functions use, all derived rather than listed by hand:

- the DynamoDB tables, from the pynamodb models (`chalicelib.store.tables.table_specs()`);
- one queue (with a dead-letter queue) per queue the app sends to or consumes, named as the app
  names it, with a visibility timeout six times its consumers' Lambda timeout (AWS's advice);
- one EventBridge rule per `@app.schedule` handler (taken out of the SAM template so that the rules
  are plain resources of the stack, named, and can be paused per stage);
- one least-privilege role per function, chosen by what triggers the function (API, queue, schedule);
- a log group per function (with retention), an Errors alarm per function and an alarm per
  dead-letter queue, published to one SNS topic;
- the secrets created at deployment (admin password, token signing key).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from broker_infra.chalice_template import API, WORKER, FunctionSpec, common_environment, read_functions

# Chalice needs a role ARN when it does not manage roles; every function's Role is then replaced by
# the role made for it here (tests/infra checks that every function's Role is a role of the stack).
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/replaced-by-broker-infra"

SECRETS_AT_DEPLOY = {
    # name under the stage's secret prefix -> generated length. The admin password bootstraps the
    # system administrator on first login; the signing key signs session tokens.
    "admin-password": 24,
    "token-signing-key": 64,
}

MAX_RECEIVE_COUNT = 5  # deliveries before a message moves to the dead-letter queue
VISIBILITY_FACTOR = 6  # AWS: a queue's visibility timeout >= 6 x its consumer's timeout
SQS_MAX_VISIBILITY = 12 * 3600

TABLE_READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
TABLE_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
# Only background jobs (schedules, the worker) may walk a whole table; no request path Scans.
TABLE_SCAN = ["dynamodb:Scan"]
QUEUE_SEND = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
QUEUE_CONSUME = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]
SECRET_READ = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
# Center and directory passwords are written by the admin API at run time, under the stage's prefix.
SECRET_WRITE = ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret"]
LOG_WRITE = ["logs:CreateLogStream", "logs:PutLogEvents"]
# Lambda in a VPC creates and deletes network interfaces (the actions of AWS's managed
# AWSLambdaVPCAccessExecutionRole). The Describe actions have no resource-level permission in IAM (they
# need "*"); these statements exist only when the stage sets subnets.
VPC_ENI_SCOPED = [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
VPC_ENI_DESCRIBE = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {"ALL": dynamodb.ProjectionType.ALL, "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY}


@dataclass(frozen=True)
class StageSettings:
    """What differs between stages, from the CDK context (`infra/cdk.json`, overridable with `-c`)."""

    name: str
    retain_data: bool = True  # tables, secrets and dead-letter queues outlive the stack
    log_retention_days: int = 30
    alarm_email: str | None = None
    schedules_enabled: bool = True  # false keeps the rules but pauses them (a stage nobody uses)
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()

    @classmethod
    def from_context(
        cls, name: str, stages: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None = None
    ) -> StageSettings:
        if not stages or name not in stages:
            raise ValueError(f"unknown stage {name!r}: the context's 'stages' has {sorted(stages or {})}")
        values = dict(stages[name])
        values.update({k: v for k, v in (overrides or {}).items() if v not in (None, "")})
        vpc = values.pop("vpc", None) or {}
        return cls(
            name=name,
            retain_data=_flag(values.get("retain_data", True)),
            log_retention_days=int(values.get("log_retention_days", 30)),
            alarm_email=values.get("alarm_email") or None,
            schedules_enabled=_flag(values.get("schedules_enabled", True)),
            subnet_ids=_strings(values.get("subnet_ids", vpc.get("subnet_ids"))),
            security_group_ids=_strings(values.get("security_group_ids", vpc.get("security_group_ids"))),
        )

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        return cdk.RemovalPolicy.RETAIN if self.retain_data else cdk.RemovalPolicy.DESTROY


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


def _strings(value: Any) -> tuple[str, ...]:
    """A list from cdk.json, or a comma-separated string from `-c key=a,b`."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(item).strip() for item in items if str(item).strip())


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))


def function_name(prefix: str, handler_name: str) -> str:
    """`broker-<stage>-<handler>`, within Lambda's 64 characters (a hash keeps long names unique)."""
    name = f"{prefix}{handler_name}"
    if len(name) > 64:
        name = f"{name[:55]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return name


class BrokerStack(cdk.Stack):
    """The stack's construct id must be the stage's name: Chalice's construct takes its stage from it."""

    def __init__(
        self,
        scope: Construct,
        stage: StageSettings,
        *,
        source_dir: Path,
        table_specs: Iterable[Mapping[str, Any]],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, stage.name, **kwargs)
        self.stage = stage
        self.prefix = f"broker-{stage.name}-"

        stage_config: dict[str, Any] = {"manage_iam_role": False, "iam_role_arn": PLACEHOLDER_ROLE_ARN}
        if stage.subnet_ids:
            if not stage.security_group_ids:
                raise ValueError("a stage with subnet_ids needs security_group_ids too")
            stage_config["subnet_ids"] = list(stage.subnet_ids)
            stage_config["security_group_ids"] = list(stage.security_group_ids)
        self.chalice = Chalice(self, "Broker", source_dir=str(source_dir), stage_config=stage_config)
        # The template as `chalice package` wrote it (the construct keeps no parsed copy; chalice pinned).
        sam = json.loads((Path(self.chalice._sam_package_dir) / "sam.json").read_text())
        self.functions = read_functions(sam)
        if not self.functions:
            raise ValueError("chalice package produced no function")

        env = self._environment()
        self.secret_prefix = env["BROKER_SECRET_PREFIX"]
        specs = list(table_specs)
        self.tables = {spec["short_name"]: self._table(spec, env["BROKER_TABLE_PREFIX"]) for spec in specs}
        self.indexed_tables = {spec["short_name"] for spec in specs if spec.get("indexes")}
        self.queues, self.dead_letter_queues = self._queues(env["BROKER_QUEUE_NAME"])
        self.secrets = self._secrets()
        self.alarm_topic = self._alarm_topic()
        main_queue = self.queues[env["BROKER_QUEUE_NAME"]]
        env["BROKER_QUEUE_URL"] = main_queue.queue_url
        for function in self.functions:
            self._wire_function(function, env)
        self._outputs(main_queue)

    # --- derived settings --------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        """The variables every function gets, taken from `.chalice/config.json` where it sets them
        (Chalice resolved the stage's values), with the defaults of `chalicelib/settings.py`."""
        stage = self.stage.name
        defaults = {
            "BROKER_STAGE": stage,
            "BROKER_TABLE_PREFIX": self.prefix,
            "BROKER_QUEUE_NAME": f"{self.prefix}provisioning",
            "BROKER_SECRET_PREFIX": f"broker/{stage}/",
        }
        env = {
            name: common_environment(self.functions, name) or default for name, default in defaults.items()
        }
        if env["BROKER_STAGE"] != stage:
            raise ValueError(f"stage {stage} packages functions with BROKER_STAGE={env['BROKER_STAGE']}")
        return env

    # --- tables ------------------------------------------------------------------------------------

    def _table(self, spec: Mapping[str, Any], prefix: str) -> dynamodb.Table:
        keys = spec["keys"]
        table = dynamodb.Table(
            self,
            f"Table{_camel(spec['short_name'])}",
            table_name=f"{prefix}{spec['short_name']}",
            partition_key=_attribute(keys["hash"]),
            sort_key=_attribute(keys["range"]) if "range" in keys else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=spec.get("ttl_attribute") or None,
            deletion_protection=self.stage.retain_data,
            removal_policy=self.stage.removal_policy,
        )
        for index in spec.get("indexes", []):
            projection = _PROJECTIONS.get(index["projection"])
            if projection is None:
                raise ValueError(
                    f"{spec['short_name']}.{index['name']}: projection {index['projection']} "
                    "is not supported by the stack (table_specs() gives no attribute list)"
                )
            index_keys = index["keys"]
            if index["kind"] == "local":
                if index_keys["hash"] != keys["hash"]:
                    raise ValueError(
                        f"{spec['short_name']}.{index['name']}: an LSI shares the table's hash key"
                    )
                table.add_local_secondary_index(
                    index_name=index["name"],
                    sort_key=_attribute(index_keys["range"]),
                    projection_type=projection,
                )
            else:
                table.add_global_secondary_index(
                    index_name=index["name"],
                    partition_key=_attribute(index_keys["hash"]),
                    sort_key=_attribute(index_keys["range"]) if "range" in index_keys else None,
                    projection_type=projection,
                )
        return table

    # --- queues ------------------------------------------------------------------------------------

    def _queues(self, main_queue_name: str) -> tuple[dict[str, sqs.Queue], dict[str, sqs.Queue]]:
        """The app's queue (`BROKER_QUEUE_NAME`) and every queue a function consumes."""
        consumers: dict[str, list[FunctionSpec]] = {main_queue_name: []}
        for function in self.functions:
            for name in function.sqs_events.values():
                consumers.setdefault(name, []).append(function)
        queues, dead_letter_queues = {}, {}
        for name, functions in sorted(consumers.items()):
            longest = max((f.timeout for f in functions), default=max(f.timeout for f in self.functions))
            dlq = sqs.Queue(
                self,
                f"Queue{_camel(name)}Dlq",
                queue_name=f"{name}-dlq",
                retention_period=cdk.Duration.days(14),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                removal_policy=self.stage.removal_policy,
            )
            queues[name] = sqs.Queue(
                self,
                f"Queue{_camel(name)}",
                queue_name=name,
                visibility_timeout=cdk.Duration.seconds(min(longest * VISIBILITY_FACTOR, SQS_MAX_VISIBILITY)),
                retention_period=cdk.Duration.days(4),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
            )
            dead_letter_queues[name] = dlq
        return queues, dead_letter_queues

    # --- secrets -----------------------------------------------------------------------------------

    def _secrets(self) -> dict[str, secretsmanager.Secret]:
        return {
            short: secretsmanager.Secret(
                self,
                f"Secret{_camel(short)}",
                secret_name=f"{self.secret_prefix}{short}",
                description=f"vdi-broker {self.stage.name}: {short} (generated at deployment)",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=length, exclude_punctuation=True
                ),
                removal_policy=self.stage.removal_policy,
            )
            for short, length in SECRETS_AT_DEPLOY.items()
        }

    # --- functions ---------------------------------------------------------------------------------

    def _wire_function(self, function: FunctionSpec, env: Mapping[str, str]) -> None:
        name = function_name(self.prefix, function.handler_name)
        cfn_function = self.chalice.get_resource(function.logical_id)
        log_group = logs.CfnLogGroup(
            self,
            f"{function.logical_id}Logs",
            log_group_name=f"/aws/lambda/{name}",
            retention_in_days=self.stage.log_retention_days,
        )
        log_group.apply_removal_policy(self.stage.removal_policy)
        role = iam.Role(
            self,
            f"{function.logical_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"vdi-broker {self.stage.name}: {function.handler_name} ({function.kind})",
            inline_policies={"broker": iam.PolicyDocument(statements=self._statements(function, name))},
        )
        cfn_function.add_property_override("FunctionName", name)
        cfn_function.add_property_override("Role", role.role_arn)
        for variable, value in env.items():
            cfn_function.add_property_override(f"Environment.Variables.{variable}", value)
        for event_name, queue_name in function.sqs_events.items():
            cfn_function.add_property_override(
                f"Events.{event_name}.Properties.Queue", self.queues[queue_name].queue_arn
            )
        for event_name, expression in function.schedule_events.items():
            self._schedule(function, name, cfn_function, event_name, expression)
        # Lambda must not create the log group itself (its role may not, and it would keep logs forever).
        cfn_function.node.add_dependency(log_group)
        self._errors_alarm(function, name)

    def _statements(self, function: FunctionSpec, name: str) -> list[iam.PolicyStatement]:
        table_arns = [t.table_arn for t in self.tables.values()]
        index_arns = [
            f"{t.table_arn}/index/*" for short, t in self.tables.items() if short in self.indexed_tables
        ]
        background = function.kind != API  # schedules, the worker, anything that is not a request
        table_actions = TABLE_READ + TABLE_WRITE + (TABLE_SCAN if background else [])
        secret_actions = SECRET_READ + (SECRET_WRITE if function.kind in (API, WORKER) else [])
        statements = [
            _allow(
                "Logs",
                LOG_WRITE,
                [
                    self.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"/aws/lambda/{name}:*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            ),
            _allow("Tables", table_actions, table_arns),
            _allow("QueueSend", QUEUE_SEND, [q.queue_arn for q in self.queues.values()]),
            _allow(
                "Secrets",
                secret_actions,
                [
                    self.format_arn(
                        service="secretsmanager",
                        resource="secret",
                        resource_name=f"{self.secret_prefix}*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            ),
        ]
        if index_arns:
            statements.insert(
                2,
                _allow(
                    "TableIndexes",
                    ["dynamodb:Query", "dynamodb:Scan"] if background else ["dynamodb:Query"],
                    index_arns,
                ),
            )
        consumed = sorted(set(function.sqs_events.values()))
        if consumed:
            statements.append(
                _allow("QueueConsume", QUEUE_CONSUME, [self.queues[q].queue_arn for q in consumed])
            )
        if self.stage.subnet_ids:
            statements.append(
                _allow(
                    "VpcNetworkInterfaces",
                    VPC_ENI_SCOPED,
                    [
                        self.format_arn(service="ec2", resource="network-interface", resource_name="*"),
                        *[
                            self.format_arn(service="ec2", resource="subnet", resource_name=s)
                            for s in self.stage.subnet_ids
                        ],
                        *[
                            self.format_arn(service="ec2", resource="security-group", resource_name=g)
                            for g in self.stage.security_group_ids
                        ],
                    ],
                )
            )
            statements.append(_allow("VpcDescribe", VPC_ENI_DESCRIBE, ["*"]))
        return statements

    def _schedule(
        self,
        function: FunctionSpec,
        name: str,
        cfn_function: cdk.CfnResource,
        event_name: str,
        expression: str,
    ) -> None:
        """The SAM `Schedule` event as an EventBridge rule of the stack, and Lambda's permission for it."""
        cfn_function.add_property_deletion_override(f"Events.{event_name}")
        suffix = "" if len(function.schedule_events) == 1 else f"-{event_name}"
        rule = events.CfnRule(
            self,
            f"{event_name}Rule",
            name=function_name(self.prefix, f"{function.handler_name}{suffix}"),
            description=f"Runs {function.handler_name}: {expression}",
            schedule_expression=expression,
            state="ENABLED" if self.stage.schedules_enabled else "DISABLED",
            targets=[
                events.CfnRule.TargetProperty(id="handler", arn=cfn_function.get_att("Arn").to_string())
            ],
        )
        lambda_.CfnPermission(
            self,
            f"{event_name}Permission",
            action="lambda:InvokeFunction",
            principal="events.amazonaws.com",
            function_name=cfn_function.ref,
            source_arn=rule.attr_arn,
        )

    # --- alarms and outputs ------------------------------------------------------------------------

    def _alarm_topic(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "Alarms",
            topic_name=f"{self.prefix}alarms",
            display_name=f"vdi-broker {self.stage.name} alarms",
        )
        if self.stage.alarm_email:
            topic.add_subscription(sns_subscriptions.EmailSubscription(self.stage.alarm_email))
        for name, dlq in sorted(self.dead_letter_queues.items()):
            alarm = cloudwatch.Alarm(
                self,
                f"Queue{_camel(name)}DlqAlarm",
                alarm_name=f"{name}-dlq-not-empty",
                alarm_description=f"Messages of {name} failed {MAX_RECEIVE_COUNT} times: see {name}-dlq",
                metric=dlq.metric_approximate_number_of_messages_visible(
                    period=cdk.Duration.minutes(5), statistic="Maximum"
                ),
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        return topic

    def _errors_alarm(self, function: FunctionSpec, name: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            f"{function.logical_id}ErrorsAlarm",
            alarm_name=f"{name}-errors",
            alarm_description=f"{function.handler_name} ({function.kind}) raised or timed out",
            metric=cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions_map={"FunctionName": name},
                period=cdk.Duration.minutes(5),
                statistic="Sum",
            ),
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))

    def _outputs(self, main_queue: sqs.Queue) -> None:
        endpoint = self.chalice.sam_template.get_output("EndpointURL")
        cdk.CfnOutput(
            self, "ApiUrl", value=endpoint.value, description="The broker's API (append rest/v1/...)"
        )
        cdk.CfnOutput(self, "QueueUrl", value=main_queue.queue_url, description="The provisioning queue")
        cdk.CfnOutput(
            self,
            "AdminPasswordSecret",
            value=f"{self.secret_prefix}admin-password",
            description="The system administrator's initial password (Secrets Manager)",
        )
        cdk.CfnOutput(
            self,
            "AlarmTopic",
            value=self.alarm_topic.topic_arn,
            description="Subscribe to receive the alarms",
        )


def _attribute(key: tuple[str, str] | list[str]) -> dynamodb.Attribute:
    name, kind = key
    return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[kind])


def _allow(sid: str, actions: list[str], resources: list[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid, effect=iam.Effect.ALLOW, actions=sorted(set(actions)), resources=resources
    )
