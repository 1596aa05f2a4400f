#!/bin/bash
# One-time install: Debian services (MariaDB, RabbitMQ, qemu-img; debian-packages.txt) + a venv with the pinned
# OpenStack services. Idempotent: does nothing when the venv's marker exists; apt runs only for missing packages.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
T0=$(date +%s)
if [ -f "$INSTALLED_MARKER" ]; then
  echo "[install] $VENV already installed, nothing to do"
  exit 0
fi
# MariaDB, RabbitMQ, qemu-img, curl and the compiler for uWSGI: from the project's one list of Debian packages.
bash "$HERE/../install-debian-packages.sh"
echo "[install] Debian packages present after $(( $(date +%s)-T0 ))s"
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
