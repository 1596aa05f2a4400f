#!/bin/bash
# Sourced by install.sh, start.sh, stop.sh and gen_configs.sh: one place for the paths they share.
# The venv lives outside the repo and is named after the lock file's hash, so every clone (and every
# CI job on the same runner) reuses one 700 MB install until requirements.lock changes.
# stack.py computes the same paths; keep the two in step.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")"; pwd)
LOCK_HASH=$(sha256sum "$HERE/requirements.lock" | cut -c1-12)
export VENV=${BROKER_OPENSTACK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/broker-openstack/venv-$LOCK_HASH}
export R=${BROKER_OPENSTACK_RUN:-/tmp/broker-openstack/run}
# Written last by install.sh: its presence means the venv is complete (an interrupted pip leaves none).
export INSTALLED_MARKER=$VENV/.broker-openstack-installed
# Written last by start.sh: its presence (with live pids) means the stack in $R is ours and ready.
export READY_MARKER=$R/READY
# Every port the stack listens on, all on 127.0.0.1.
export STACK_PORTS="5000 3306 4369 5672 25672 8778 9292 8774 9696 8776"
