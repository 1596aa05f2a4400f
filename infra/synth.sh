#!/usr/bin/env bash
# Synthesize the broker's CloudFormation templates, one per stage, into infra/cdk.out/<stage>/.
#
# Needs no AWS credentials and calls no AWS API: the stacks are environment-agnostic and the CDK app
# runs directly through jsii (no CDK CLI). Creates infra/.venv on first use (PyPI is needed then, and
# by `chalice package`, which downloads the Lambda's wheels). Safe to run again.
#
#   bash infra/synth.sh              # dev and prod
#   STAGES=prod bash infra/synth.sh  # some stages only
set -euo pipefail

INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$INFRA/.venv"
STAGES="${STAGES:-dev prod}"
# The Lambda runtime is the version of the Python that packages the app: prefer the project's 3.11.
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
start=$(date +%s)

# One synthesis at a time (parallel test workers, two terminals): they share infra/.venv and cdk.out.
mkdir -p "$INFRA/.build"
exec 9>"$INFRA/.build/synth.lock"
flock 9

# (Re)install when the venv is missing or requirements.txt changed since the last install.
stamp="$VENV/.requirements.sha256"
want="$(cat "$INFRA/requirements.txt" "$INFRA/../requirements.txt" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "synth: installing infra/requirements.txt into infra/.venv"
    [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
    # --no-compile: aws-cdk-lib is hundreds of large modules; the few the app imports compile on first use.
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-compile \
            -r "$INFRA/requirements.txt" > "$INFRA/.build/pip-install.log" 2>&1; then
        tail -40 "$INFRA/.build/pip-install.log" >&2
        echo "synth: pip install failed (full log: infra/.build/pip-install.log)" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
    echo "synth: infra/.venv ready in $(( $(date +%s) - start ))s"
fi

# jsii runs on node; it warns loudly on an end-of-life node (20), which still works for synth.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="${JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION:-20}"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
# Nothing here may reach AWS: no credentials, a region for botocore's endpoint table only.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_EC2_METADATA_DISABLED=true
unset CDK_CONTEXT_JSON CDK_OUTDIR

for stage in $STAGES; do
    stage_start=$(date +%s)
    out="$INFRA/cdk.out/$stage"
    rm -rf "$out"
    "$VENV/bin/python" "$INFRA/main.py" --stage "$stage" --outdir "$out"
    echo "synth: $stage -> ${out#"$PWD"/}/$stage.template.json ($(( $(date +%s) - stage_start ))s)"
done
echo "synth: done in $(( $(date +%s) - start ))s"
