#!/bin/bash
# One-time install: Debian services (MariaDB, RabbitMQ, qemu-img) + a venv with the pinned OpenStack
# services. Idempotent: does nothing when the venv's marker exists; skips apt when the binaries exist.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
T0=$(date +%s)
if [ -f "$INSTALLED_MARKER" ]; then
  echo "[install] $VENV already installed, nothing to do"
  exit 0
fi
have(){ command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if have mariadbd && have rabbitmq-server && have qemu-img && have curl; then
  echo "[install] mariadbd, rabbitmq-server, qemu-img, curl present: skipping apt"
else
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends rabbitmq-server mariadb-server qemu-utils curl >/dev/null
  echo "[install] apt done after $(( $(date +%s)-T0 ))s"
fi
# An interrupted install leaves a venv without the marker; venv and pip are idempotent, so re-running
# them completes it (no rm -rf: BROKER_OPENSTACK_VENV may point at a directory we did not create).
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -U pip wheel setuptools
"$VENV/bin/pip" install -q -r "$HERE/requirements.lock"
# Build the plug-ins from a scratch copy so setuptools' build/ and egg-info never land in the repo.
SCRATCH=$(mktemp -d); trap 'rm -rf "$SCRATCH"' EXIT
cp -r "$HERE/realos_fakes" "$SCRATCH/"
"$VENV/bin/pip" install -q "$SCRATCH/realos_fakes"
date -u +%FT%TZ > "$INSTALLED_MARKER"
echo "[install] venv done after $(( $(date +%s)-T0 ))s ($(du -sh "$VENV" | cut -f1)) at $VENV"
