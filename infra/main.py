"""The CDK app: the broker's stack for ONE stage per run, the stage named by the context.

    cd infra && npx aws-cdk@2 deploy -c stage=prod            # with the CDK CLI (docs/deploy.md)
    infra/.venv/bin/python infra/main.py --stage prod --outdir infra/cdk.out/prod   # synth only

One stage per process: Chalice imports `app.py` with the stage's environment (the worker's queue name
is read at import), and Python imports a module once.

The stack is environment-agnostic (account and region are CloudFormation pseudo parameters), so
synthesizing needs no AWS account and contacts nothing; `cdk deploy` deploys to the account and region
of the credentials it runs with.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
REPO_DIR = INFRA_DIR.parent
BUILD_DIR = INFRA_DIR / ".build"
# Context keys that, when given (`-c key=value`), override the stage's block of cdk.json.
OVERRIDABLE = (
    "retain_data",
    "log_retention_days",
    "alarm_email",
    "schedules_enabled",
    "subnet_ids",
    "security_group_ids",
    "api_rate_limit",
    "api_burst_limit",
    "login_rate_limit",
    "login_burst_limit",
    "api_reserved_concurrency",
    "worker_reserved_concurrency",
    "schedule_reserved_concurrency",
    "waf_enabled",
    "waf_login_limit",
)
# What `chalice package` reads from a Chalice project; everything else (tests/, localdev/, bench/,
# infra/, agent/, caches) is left out of the copy it packages.
PACKAGED = ("app.py", "requirements.txt", "chalicelib", "vendor")
NOT_PACKAGED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".DS_Store")


def stage_source(source_dir: Path, build_dir: Path) -> Path:
    """A clean copy of the Chalice project to package: no bytecode (it would end up in the zip, and
    change Chalice's cache key on every import). Chalice's cache of built dependencies
    (`.chalice/deployments/`) stays in the copy between runs; only the newest zip is kept."""
    staged = build_dir / "source"
    (staged / ".chalice").mkdir(parents=True, exist_ok=True)
    for name in PACKAGED:
        target = staged / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        origin = source_dir / name
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=NOT_PACKAGED)
        elif origin.is_file():
            shutil.copy2(origin, target)
    for old in (staged / ".chalice").glob("*.json"):
        old.unlink()
    for config in (source_dir / ".chalice").glob("*.json"):  # config.json and any policy-<stage>.json
        shutil.copy2(config, staged / ".chalice" / config.name)
    return staged


def prune_package_cache(staged: Path) -> None:
    zips = sorted((staged / ".chalice" / "deployments").glob("*.zip"), key=lambda p: p.stat().st_mtime)
    for old in zips[:-1]:
        old.unlink()


@contextlib.contextmanager
def _working_directory(path: str) -> Iterator[None]:
    """Chalice's construct writes its package to ./chalice.out: keep that out of the tree."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", help="the stage (default: the context's 'stage', else dev)")
    parser.add_argument("--outdir", help="where to write the cloud assembly (default: the CLI's, or cdk.out)")
    parser.add_argument("--source-dir", default=str(REPO_DIR), help="the Chalice project (default: the repo)")
    parser.add_argument("--build-dir", default=str(BUILD_DIR), help="scratch space kept between runs")
    args = parser.parse_args(argv)

    if str(INFRA_DIR) not in sys.path:
        sys.path.insert(0, str(INFRA_DIR))
    # Chalice asks botocore for a region while packaging (it calls nothing): any will do.
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))

    # aws-cdk-lib's modules are megabytes of Python each and infra/.venv is installed without bytecode
    # (synth.sh): keep what this run compiles, even under PYTHONDONTWRITEBYTECODE, so that the next
    # synthesis does not compile them again (about 25 s each). The project's copy gets none (below).
    sys.dont_write_bytecode = False
    import aws_cdk as cdk
    from broker_infra.stack import BrokerStack, StageSettings

    file_context = json.loads((INFRA_DIR / "cdk.json").read_text())["context"]
    app = cdk.App(context=file_context, outdir=os.path.abspath(args.outdir) if args.outdir else None)
    stage_name = str(args.stage or app.node.try_get_context("stage") or "dev")
    settings = StageSettings.from_context(
        stage_name,
        app.node.try_get_context("stages"),
        {key: app.node.try_get_context(key) for key in OVERRIDABLE},
    )
    staged = stage_source(Path(args.source_dir).resolve(), Path(args.build_dir).resolve())
    # The tables and the functions come from the same snapshot of the code (the staged copy, which
    # Chalice imports too); a project without chalicelib (tests/infra/fixture_app) uses the repo's.
    sys.dont_write_bytecode = True  # leave no __pycache__ in the copy Chalice zips
    sys.path[:0] = [str(staged), str(REPO_DIR)]
    from chalicelib.store.tables import table_specs

    with tempfile.TemporaryDirectory(prefix="broker-chalice-") as scratch, _working_directory(scratch):
        BrokerStack(
            app,
            settings,
            source_dir=staged,
            table_specs=table_specs(),
            stack_name=f"broker-{stage_name}",
            description=f"vdi-broker connection broker, stage {stage_name}",
            tags={"app": "vdi-broker", "stage": stage_name},
        )
        app.synth()
    prune_package_cache(staged)


if __name__ == "__main__":
    main()
