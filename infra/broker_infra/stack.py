"""The broker's CloudFormation stack for one stage.

Chalice's CDK construct packages the app (`chalice package`) and includes its SAM template: the REST
API, one Lambda function per handler, and the event sources (SQS, schedules). Around it this stack
builds what the functions use, all derived rather than listed by hand:

- the DynamoDB tables, from the pynamodb models (`chalicelib.store.tables.table_specs()`);
- one queue (with a dead-letter queue) per queue the app sends to or consumes, named as the app
  names it, with a visibility timeout six times its consumers' Lambda timeout (AWS's advice);
- one EventBridge rule per `@app.schedule` handler (taken out of the SAM template so that the rules
  are plain resources of the stack, named, and can be paused per stage);
- one least-privilege role per function, chosen by what triggers the function (API, queue, schedule):
  each reads and writes only the secrets its code uses, and none may delete or rewrite an audit event;
- a log group per function (with retention), an Errors alarm per function and an alarm per
  dead-letter queue, published to one SNS topic;
- the secrets created at deployment (admin password, token signing key);
- the edge: API Gateway throttles (the stage, and tighter ones on the login routes), reserved
  concurrency (the API capped; the worker and the schedules keep capacity of their own), and an
  optional AWS WAF rate-based rule on the login routes (`waf_enabled`);
- the portal: a private S3 bucket behind a CloudFront distribution that also routes the API's paths
  to API Gateway, with the portal's security headers (`broker_infra/portal.py`, docs/portal.md).
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
from aws_cdk import aws_wafv2 as wafv2
from chalice.cdk import Chalice
from constructs import Construct

from broker_infra.chalice_template import (
    API,
    SCHEDULE,
    WORKER,
    ApiSpec,
    FunctionSpec,
    api_resource,
    common_environment,
    read_functions,
)
from broker_infra.portal import Portal

# Chalice needs a role ARN when it does not manage roles; every function's Role is then replaced by
# the role made for it here (tests/infra checks that every function's Role is a role of the stack).
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/replaced-by-broker-infra"

ADMIN_PASSWORD_SECRET = "admin-password"  # noqa: S105 - names, not values
SIGNING_KEY_SECRET = "token-signing-key"  # noqa: S105
SECRETS_AT_DEPLOY = {
    # name under the stage's secret prefix -> generated length. The admin password bootstraps the
    # system administrator on first login; the signing key signs session tokens. Only the deployment
    # writes them: no function may create, change or delete them.
    ADMIN_PASSWORD_SECRET: 24,
    SIGNING_KEY_SECRET: 64,
}
# The secrets the admin API writes at run time, one folder each under the stage's prefix
# (chalicelib/services/centers.py and auth_servers.py name them; tests/infra checks they agree).
CENTER_SECRETS = "center"  # OpenStack/VHI passwords: written by the API, read by the worker only
DIRECTORY_SECRETS = "auth-server"  # LDAP/AD bind passwords: written and read by the API only
GATEWAY_SECRETS = "gateway"  # HTML5 gateways' signing and shared keys: written and read by the API only
# Told to every function: the deployment made SECRETS_AT_DEPLOY, so the code never creates them.
DEPLOYED_SECRETS_VARIABLE = "BROKER_DEPLOYED_SECRETS"

# Tables whose items are only ever added: no function may update or delete them (audit events
# expire through their TTL attribute). BatchWriteItem can delete too, so it is not granted on them.
APPEND_ONLY_TABLES = ("audit",)

# The routes where a flood costs the most (a password hash or a token check per request, no session
# needed): each gets a throttle of its own, tighter than the stage's, and the optional WAF rule.
LOGIN_ROUTES = (
    ("POST", "/client/v1/login"),
    ("POST", "/rest/v1/session/login"),
    ("POST", "/agent/v1/register"),
)
# The optional WAF rule counts per client IP, so it leaves out agent registration: the desktops of a
# pool usually reach the broker through one NAT address, and register together when a pool grows.
WAF_ROUTES = (("POST", "/client/v1/login"), ("POST", "/rest/v1/session/login"))
WAF_WINDOW_SECONDS = 300
WAF_MIN_LIMIT = 10  # AWS WAF's smallest rate limit per window
SQS_MIN_MAX_CONCURRENCY = 2  # the smallest MaximumConcurrency of an SQS event source

MAX_RECEIVE_COUNT = 5  # deliveries before a message moves to the dead-letter queue
VISIBILITY_FACTOR = 6  # AWS: a queue's visibility timeout >= 6 x its consumer's timeout
SQS_MAX_VISIBILITY = 12 * 3600

TABLE_READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
TABLE_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
TABLE_APPEND = ["dynamodb:PutItem"]  # append-only tables (a transaction's Put needs no more)
# Only background jobs (schedules, the worker) may walk a whole table; no request path Scans.
TABLE_SCAN = ["dynamodb:Scan"]
QUEUE_SEND = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
QUEUE_CONSUME = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]
SECRET_READ = ["secretsmanager:GetSecretValue"]
SECRET_DESCRIBE = ["secretsmanager:DescribeSecret"]  # the health check: "does Secrets Manager answer?"
# Center and directory passwords are written by the admin API at run time, in their own folders.
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
    # The edge (docs/deploy.md, "Throttling and concurrency"). Rates are requests per second.
    api_rate_limit: float = 500.0  # the stage: every route together
    api_burst_limit: int = 1000
    login_rate_limit: float = 10.0  # each of LOGIN_ROUTES, on its own
    login_burst_limit: int = 20
    api_reserved_concurrency: int | None = 200  # None: no reservation (an account with a small quota)
    worker_reserved_concurrency: int | None = 10
    schedule_reserved_concurrency: int | None = 2  # each scheduled function
    waf_enabled: bool = False
    waf_login_limit: int = 300  # requests per IP per 5 minutes to the login routes

    def __post_init__(self) -> None:
        if not 0 < self.login_rate_limit <= self.api_rate_limit:
            raise ValueError("login_rate_limit must be positive and at most api_rate_limit")
        if not 0 < self.login_burst_limit <= self.api_burst_limit:
            raise ValueError("login_burst_limit must be positive and at most api_burst_limit")
        if self.worker_reserved_concurrency is not None and (
            self.worker_reserved_concurrency < SQS_MIN_MAX_CONCURRENCY
        ):
            raise ValueError(
                f"worker_reserved_concurrency must be at least {SQS_MIN_MAX_CONCURRENCY} (or none)"
            )
        if self.waf_login_limit < WAF_MIN_LIMIT:
            raise ValueError(f"waf_login_limit must be at least {WAF_MIN_LIMIT}")

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
            api_rate_limit=_positive(values, "api_rate_limit", cls.api_rate_limit, float),
            api_burst_limit=_positive(values, "api_burst_limit", cls.api_burst_limit, int),
            login_rate_limit=_positive(values, "login_rate_limit", cls.login_rate_limit, float),
            login_burst_limit=_positive(values, "login_burst_limit", cls.login_burst_limit, int),
            api_reserved_concurrency=_reservation(
                values, "api_reserved_concurrency", cls.api_reserved_concurrency
            ),
            worker_reserved_concurrency=_reservation(
                values, "worker_reserved_concurrency", cls.worker_reserved_concurrency
            ),
            schedule_reserved_concurrency=_reservation(
                values, "schedule_reserved_concurrency", cls.schedule_reserved_concurrency
            ),
            waf_enabled=_flag(values.get("waf_enabled", False)),
            waf_login_limit=_positive(values, "waf_login_limit", cls.waf_login_limit, int),
        )

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        return cdk.RemovalPolicy.RETAIN if self.retain_data else cdk.RemovalPolicy.DESTROY


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


def _positive(values: Mapping[str, Any], key: str, default: Any, kind: type) -> Any:
    value = kind(values.get(key, default))
    if value <= 0:
        raise ValueError(f"{key} must be positive, not {value}")
    return value


_NO_RESERVATION = ("none", "off", "")


def _reservation(values: Mapping[str, Any], key: str, default: int | None) -> int | None:
    """A reserved concurrency: a positive integer, or none (`null`, "none", "off") for no reservation."""
    value = values.get(key, default)
    if value is None or (isinstance(value, str) and value.strip().lower() in _NO_RESERVATION):
        return None
    if isinstance(value, bool) or int(value) < 1:
        raise ValueError(f"{key} must be a positive integer or none, not {value!r}")
    return int(value)


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
        self.api = api_resource(sam)
        if not self.functions:
            raise ValueError("chalice package produced no function")

        env = self._environment()
        self.secret_prefix = env["BROKER_SECRET_PREFIX"]
        specs = list(table_specs)
        self.tables = {spec["short_name"]: self._table(spec, env["BROKER_TABLE_PREFIX"]) for spec in specs}
        self.indexed_tables = {spec["short_name"] for spec in specs if spec.get("indexes")}
        missing = set(APPEND_ONLY_TABLES) - set(self.tables)
        if missing:
            raise ValueError(f"append-only tables {sorted(missing)} are not tables of the app")
        self.queues, self.dead_letter_queues = self._queues(env["BROKER_QUEUE_NAME"])
        self.secrets = self._secrets()
        self.alarm_topic = self._alarm_topic()
        main_queue = self.queues[env["BROKER_QUEUE_NAME"]]
        env["BROKER_QUEUE_URL"] = main_queue.queue_url
        env[DEPLOYED_SECRETS_VARIABLE] = "1"
        for function in self.functions:
            self._wire_function(function, env)
        if self.api is not None:
            self._throttle_api(self.api)
            if stage.waf_enabled:
                self._firewall(self.api)
        self._outputs(main_queue)
        rest_api = self.chalice.get_resource(self.api.logical_id) if self.api is not None else None
        self.portal = Portal(self, "Portal", prefix=self.prefix, api=self.api, api_resource=rest_api,
                             removal_policy=self.stage.removal_policy)

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
        reserved = self._reserved_concurrency(function)
        if reserved is not None:
            cfn_function.add_property_override("ReservedConcurrentExecutions", reserved)
        for event_name, queue_name in function.sqs_events.items():
            cfn_function.add_property_override(
                f"Events.{event_name}.Properties.Queue", self.queues[queue_name].queue_arn
            )
            if reserved is not None:
                # Lambda's pollers stop at the reservation instead of being throttled by it (a throttled
                # batch counts as a receive and would move healthy messages to the dead-letter queue).
                cfn_function.add_property_override(
                    f"Events.{event_name}.Properties.ScalingConfig.MaximumConcurrency", reserved
                )
        for event_name, expression in function.schedule_events.items():
            self._schedule(function, name, cfn_function, event_name, expression)
        # Lambda must not create the log group itself (its role may not, and it would keep logs forever).
        cfn_function.node.add_dependency(log_group)
        # No request may find the signing key or the admin password missing on a first deployment
        # (the functions never create them: their roles may not).
        for secret in self.secrets.values():
            cfn_function.node.add_dependency(secret)
        self._errors_alarm(function, name)

    def _statements(self, function: FunctionSpec, name: str) -> list[iam.PolicyStatement]:
        append_only = [t for short, t in self.tables.items() if short in APPEND_ONLY_TABLES]
        writable = [t for short, t in self.tables.items() if short not in APPEND_ONLY_TABLES]
        index_arns = [
            f"{t.table_arn}/index/*" for short, t in self.tables.items() if short in self.indexed_tables
        ]
        background = function.kind != API  # schedules, the worker, anything that is not a request
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
            _allow(
                "TableRead",
                TABLE_READ + (TABLE_SCAN if background else []),
                [t.table_arn for t in self.tables.values()],
            ),
            _allow("TableWrite", TABLE_WRITE, [t.table_arn for t in writable]),
        ]
        if append_only:
            statements.append(_allow("TableAppend", TABLE_APPEND, [t.table_arn for t in append_only]))
        if index_arns:
            statements.append(
                _allow(
                    "TableIndexes",
                    ["dynamodb:Query", "dynamodb:Scan"] if background else ["dynamodb:Query"],
                    index_arns,
                )
            )
        statements.append(_allow("QueueSend", QUEUE_SEND, [q.queue_arn for q in self.queues.values()]))
        statements += self._secret_statements(function)
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

    def _secret_statements(self, function: FunctionSpec) -> list[iam.PolicyStatement]:
        """What each kind of function does with secrets (docs/deploy.md, "IAM"):
        the API reads the admin password (first login), the signing key and the directories' bind
        passwords and the gateways' keys (a connect signs with one), checks that Secrets Manager answers
        (health), and writes center and directory passwords and gateway keys; the worker reads center
        passwords; nothing else touches a secret."""
        centers = self._secret_folder(CENTER_SECRETS)
        directories = self._secret_folder(DIRECTORY_SECRETS)
        gateways = self._secret_folder(GATEWAY_SECRETS)
        admin_password = self.secrets[ADMIN_PASSWORD_SECRET].secret_arn
        signing_key = self.secrets[SIGNING_KEY_SECRET].secret_arn
        if function.kind == API:
            return [
                _allow("SecretsRead", SECRET_READ, [admin_password, signing_key, directories, gateways]),
                _allow("SecretsHealth", SECRET_DESCRIBE, [admin_password]),
                _allow("SecretsWrite", SECRET_WRITE, [centers, directories, gateways]),
            ]
        if function.kind == WORKER:
            return [_allow("SecretsRead", SECRET_READ, [centers])]
        return []

    def _secret_folder(self, folder: str) -> str:
        return self.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.secret_prefix}{folder}/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

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

    # --- the edge: throttles, concurrency, firewall -------------------------------------------------

    def _reserved_concurrency(self, function: FunctionSpec) -> int | None:
        """The API is capped (a flood of logins cannot take every Lambda slot of the account); the worker
        and each schedule get capacity of their own, which no flood of requests can take."""
        return {
            API: self.stage.api_reserved_concurrency,
            WORKER: self.stage.worker_reserved_concurrency,
            SCHEDULE: self.stage.schedule_reserved_concurrency,
        }.get(function.kind)

    def _throttle_api(self, api: ApiSpec) -> None:
        """API Gateway's throttles on the stage: every route together, then each login route on its own
        (API Gateway answers 429 beyond them, before any Lambda runs)."""
        settings = [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "ThrottlingRateLimit": self.stage.api_rate_limit,
                "ThrottlingBurstLimit": self.stage.api_burst_limit,
            }
        ]
        for method, path in LOGIN_ROUTES:
            if (method, path) not in api.routes:
                continue  # an app without this route (tests/infra/fixture_app)
            settings.append(
                {
                    # CloudFormation's encoding of a resource path: each "/" as "~1".
                    "ResourcePath": "/" + path.replace("/", "~1"),
                    "HttpMethod": method,
                    "ThrottlingRateLimit": self.stage.login_rate_limit,
                    "ThrottlingBurstLimit": self.stage.login_burst_limit,
                }
            )
        self.chalice.get_resource(api.logical_id).add_property_override("MethodSettings", settings)

    def _firewall(self, api: ApiSpec) -> None:
        """AWS WAF in front of the stage: requests to the user and admin logins are counted per client
        IP, and an IP over `waf_login_limit` in 5 minutes is blocked until its rate falls again (agents
        and the rest of the API are not counted: many desktops share one NAT address)."""
        login_paths = [path for method, path in WAF_ROUTES if (method, path) in api.routes]
        if not login_paths:
            return
        matches = [
            wafv2.CfnWebACL.StatementProperty(
                byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                    positional_constraint="CONTAINS",  # the stage (/api) or a base path may come first
                    search_string=path,
                    # API Gateway routes /client/v1/%6Cogin as /client/v1/login: so does the match.
                    text_transformations=[
                        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
                    ],
                )
            )
            for path in login_paths
        ]
        scope = (
            matches[0]
            if len(matches) == 1
            else wafv2.CfnWebACL.StatementProperty(
                or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=matches)
            )
        )
        acl = wafv2.CfnWebACL(
            self,
            "ApiFirewall",
            name=f"{self.prefix}api",
            description=f"vdi-broker {self.stage.name}: rate limit on the login routes per client IP",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{self.prefix}api"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="login-rate-per-ip",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=self.stage.waf_login_limit,
                            aggregate_key_type="IP",
                            evaluation_window_sec=WAF_WINDOW_SECONDS,
                            scope_down_statement=scope,
                        )
                    ),
                    visibility_config=_visibility(f"{self.prefix}login-rate-per-ip"),
                )
            ],
        )
        association = wafv2.CfnWebACLAssociation(
            self,
            "ApiFirewallAssociation",
            resource_arn=cdk.Fn.join(
                "",
                [
                    f"arn:{cdk.Aws.PARTITION}:apigateway:{cdk.Aws.REGION}::/restapis/",
                    cdk.Fn.ref(api.logical_id),
                    f"/stages/{api.stage_name}",
                ],
            ),
            web_acl_arn=acl.attr_arn,
        )
        # The stage is made by the SAM transform (named <api><stage>Stage): associate once it exists.
        association.add_override("DependsOn", [f"{api.logical_id}{api.stage_name}Stage"])
        cdk.Validations.of(association).acknowledge(
            cdk.Acknowledgment(
                id="CloudFormation-Validate::E3005",
                reason="the stage is a resource of the SAM transform, which runs before DependsOn is read",
            )
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


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _allow(sid: str, actions: list[str], resources: list[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid, effect=iam.Effect.ALLOW, actions=sorted(set(actions)), resources=resources
    )
