#!/usr/bin/env bash
# Install the Debian packages listed in debian-packages.txt that are missing. `make test`, `make run`, the
# local OpenStack's install.sh and CI run it. Idempotent: when every package is there it does nothing and
# needs neither root nor the network. Usage: install-debian-packages.sh [LIST]
set -euo pipefail
LIST=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/debian-packages.txt}
read -r -a wanted <<< "$(sed -e 's/#.*//' "$LIST" | xargs)"
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "[debian-packages] missing: ${missing[*]}; this machine has no apt-get (Debian 12 is expected):" \
       "install their equivalents, see $LIST" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[debian-packages] missing Debian packages: ${missing[*]}" >&2
  echo "[debian-packages] install them as root, then run make again:" >&2
  echo "    sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "[debian-packages] installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Install, never start: the tests and `make run` start their own slapd, MariaDB and RabbitMQ, and a system
# instance started by the package would hold 3306 or 5672. policy-rc.d is Debian's switch for that; one
# that the machine already has is left as it is.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by install-debian-packages.sh for the length of one apt-get install\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[debian-packages] installed ${missing[*]}"
