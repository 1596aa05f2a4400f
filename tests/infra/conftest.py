"""Fixtures of the infra tests: the templates `bash infra/synth.sh` writes (synthesized once per test
run, also under pytest-xdist), and what the Chalice app declares, to compare them with.

Nothing here needs aws-cdk-lib in the project's venv: the synthesis runs in infra/.venv (which
synth.sh creates), and the tests read its JSON.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
INFRA_PYTHON = INFRA / ".venv" / "bin" / "python"
FIXTURE_APP = Path(__file__).resolve().parent / "fixture_app"
# The copy of the Chalice project that synth.sh packaged (infra/main.py's stage_source): the code the
# templates were made from.
SNAPSHOT = INFRA / ".build" / "source"
STAGES = ("dev", "prod")
SYNTH_TIMEOUT = 20 * 60


def clean_environment(**extra: str) -> dict[str, str]:
    """The environment of a synthesis: none of the test run's AWS, broker or CDK settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BROKER_", "CDK_"))}
    # No AWS credentials here, so botocore's chain would end at the instance metadata service
    # (169.254.169.254, off this machine): synth.sh turns that step off, and so must every other command.
    # CDK_VALIDATION=false: the CDK's built-in template check (cfn-guard in WebAssembly) takes about 20 s of
    # each synthesis and only warns; these tests run cfn-lint on every template and fail on any finding.
    env.update(JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", AWS_DEFAULT_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true", CDK_VALIDATION="false", **extra)
    return env


def _run(command: list[str], what: str, **kwargs: Any) -> None:
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=SYNTH_TIMEOUT, check=False, **kwargs
    )
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")


@pytest.fixture(scope="session")
def synthesized() -> dict[str, Path]:
    """`bash infra/synth.sh`, once per test run: the cloud assembly directory of each stage."""
    build = INFRA / ".build"
    build.mkdir(parents=True, exist_ok=True)
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid-{os.getpid()}"
    done = build / "pytest-synth.done"
    with open(build / "pytest-synth.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers wait for the first one's synthesis
        if not (done.exists() and done.read_text() == run_id):
            done.unlink(missing_ok=True)
            _run(["bash", str(INFRA / "synth.sh")], "bash infra/synth.sh", env=clean_environment())
            done.write_text(run_id)
    outdirs = {stage: INFRA / "cdk.out" / stage for stage in STAGES}
    for stage, outdir in outdirs.items():
        assert (outdir / f"{stage}.template.json").is_file(), f"synth.sh wrote no template for {stage}"
    return outdirs


@pytest.fixture(scope="session")
def templates(synthesized: dict[str, Path]) -> dict[str, dict[str, Any]]:
    return {
        stage: json.loads((outdir / f"{stage}.template.json").read_text())
        for stage, outdir in synthesized.items()
    }


def declared_handlers(project_dir: Path, stage: str) -> dict[str, Any]:
    """What the Chalice app declares (routes, schedules, queues...), read by importing it apart."""
    result = subprocess.run(
        [sys.executable, "-B", str(Path(__file__).with_name("app_handlers.py")), str(project_dir), stage],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=clean_environment(),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def handlers(synthesized: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Per stage: the handlers, tables (`table_specs()`) and routes of the code synth.sh packaged."""
    return {stage: declared_handlers(SNAPSHOT, stage) for stage in STAGES}


# The fixture app's stage, in a VPC: checks that infra/ derives its resources (and the VPC wiring).
FIXTURE_CONTEXT = {
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "security_group_ids": ["sg-0123456789abcdef0"],
    "alarm_email": "ops@example.com",
}


def synthesize(source_dir: Path, stage: str, work: Path, context: dict[str, Any], what: str) -> Path:
    """infra/main.py on a project, with context given as on the command line; the template's path."""
    _run(
        [
            str(INFRA_PYTHON),
            str(INFRA / "main.py"),
            "--stage",
            stage,
            "--source-dir",
            str(source_dir),
            "--outdir",
            str(work / "out"),
            "--build-dir",
            str(work / "build"),
        ],
        what,
        env=clean_environment(CDK_CONTEXT_JSON=json.dumps(context)),
    )
    return work / "out" / f"{stage}.template.json"


@pytest.fixture(scope="session")
def fixture_synth(synthesized: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template of tests/infra/fixture_app (one handler of every kind), stage dev, in a VPC."""
    work = tmp_path_factory.mktemp("fixture-synth")
    return synthesize(FIXTURE_APP, "dev", work, FIXTURE_CONTEXT, "synthesizing the fixture app")


# The broker's prod stage with the edge settings changed from the command line (`-c key=value`, as
# strings): the optional WAF on, other reservations and throttles.
EDGE_CONTEXT = {
    "waf_enabled": "true",
    "waf_login_limit": "120",
    "api_reserved_concurrency": "150",
    "worker_reserved_concurrency": "none",
    "schedule_reserved_concurrency": "3",
    "api_rate_limit": "80",
    "api_burst_limit": "160",
    "login_rate_limit": "2.5",
    "login_burst_limit": "5",
}


@pytest.fixture(scope="session")
def edge_synth(synthesized: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template of stage prod synthesized with EDGE_CONTEXT, from the same snapshot of the code as
    the other templates (and its cached Lambda dependencies: no download)."""
    work = tmp_path_factory.mktemp("edge-synth")
    cache = Path(".chalice") / "deployments"
    shutil.copytree(SNAPSHOT / cache, work / "build" / "source" / cache)
    return synthesize(SNAPSHOT, "prod", work, EDGE_CONTEXT, "synthesizing prod with the edge settings")


@pytest.fixture(scope="session")
def lint_findings(
    synthesized: dict[str, Path], fixture_synth: Path, edge_synth: Path
) -> dict[str, list[str]]:
    """cfn-lint (infra/.venv) on every synthesized template in one run: template path -> findings."""
    paths = [outdir / f"{stage}.template.json" for stage, outdir in synthesized.items()]
    paths += [fixture_synth, edge_synth]
    result = subprocess.run(
        [str(INFRA / ".venv" / "bin" / "cfn-lint"), "--format", "json", "--", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT,
        check=False,
        env=clean_environment(),
    )
    findings: dict[str, list[str]] = {str(path): [] for path in paths}
    for match in json.loads(result.stdout or "[]"):
        findings.setdefault(match["Filename"], []).append(
            f"{match['Rule']['Id']} {match['Message']} at {'/'.join(map(str, match['Location']['Path']))}"
        )
    assert result.returncode == 0 or any(findings.values()), result.stderr
    return findings
