#!/usr/bin/env bash
# The README's `make test` on a fresh machine: a clean Debian 12 root (debootstrap, minbase + make, no
# python3, slapd or anything else), the repository cloned into it at HEAD beside a copy of ../shared, run
# in namespaces of its own: its own loopback (the host's services on 127.0.0.1, such as a shared local
# OpenStack on fixed ports, are neither seen nor disturbed), its own process ids (everything it started
# ends with it), its own mounts. It reaches only the package registries, through
# tests/fresh_machine/registry_proxy.py. Then `make test` there, which must install everything itself.
#
# Usage, as root:  tests/fresh_machine/check.sh [PYTEST_ARGS]     e.g. check.sh tests/integration/ldap
# No argument runs every test (about 25 min plus a first install of the local OpenStack's venv).
# FRESH_MACHINE_DIR (default /var/tmp/broker-fresh-machine) holds the cached debootstrap image (made once,
# about a minute), this run's root (rebuilt at each run, left for inspection) and the logs.
# See docs/testing.md.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
SHARED=$(cd "$REPO/../shared" && pwd)
DIR=${FRESH_MACHINE_DIR:-/var/tmp/broker-fresh-machine}
IMAGE=$DIR/debian12-minbase
ROOT=$DIR/root
# debootstrap uses this machine's own Debian archive (its apt sources) unless told otherwise.
MIRROR=${FRESH_MACHINE_MIRROR:-$(python3 "$HERE/registry_proxy.py" mirror)}
SOCKET=$DIR/registry.sock
NETNS=broker-fresh-$$
PROXY_PORT=3128
say(){ echo "[fresh-machine $(date +%H:%M:%S)] $*"; }

[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap, chroot, network namespaces)" >&2; exit 1; }
case "$DIR" in "$REPO"|"$REPO"/*) echo "FRESH_MACHINE_DIR must be outside the repository" >&2; exit 1;; esac
mkdir -p "$DIR"
T0=$(date +%s)

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap on this machine"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [ ! -x "$IMAGE/usr/bin/make" ]; then
  say "debootstrap: Debian 12 (bookworm) minbase + make into $IMAGE (once)"
  rm -rf "$IMAGE.partial"
  debootstrap --variant=minbase --include=make bookworm "$IMAGE.partial" "$MIRROR" > "$DIR/debootstrap.log" 2>&1 \
    || { tail -20 "$DIR/debootstrap.log" >&2; exit 1; }
  mv "$IMAGE.partial" "$IMAGE"
fi

say "a fresh root from the image: $ROOT"
rm -rf "$ROOT"
cp -a "$IMAGE" "$ROOT"
# What Debian's installer writes and debootstrap does not: the machine's name and localhost.
echo fresh-machine > "$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tfresh-machine\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT/etc/hosts"
# This workplace's Debian registry serves a dated snapshot whose Release files are past their Valid-Until;
# the machines here carry apt settings that accept that, and so does this one.
for setting in /etc/apt/apt.conf.d/*; do
  grep -qs "Check-Valid-Until" "$setting" && cp "$setting" "$ROOT/etc/apt/apt.conf.d/"
done
# Its TLS to PyPI passes an intercepting proxy whose CA the machines here trust: a local CA of Debian's
# (/usr/local/share/ca-certificates, kept when ca-certificates is installed and rebuilds the bundle) and
# variables naming the bundle (the CI run gets them too). The fresh root gets the same CAs and variables.
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/"
fi
tls_env=()
for name in PIP_CERT SSL_CERT_FILE REQUESTS_CA_BUNDLE; do
  file=${!name:-}
  [ -n "$file" ] && [ -f "$file" ] || continue
  mkdir -p "$ROOT$(dirname "$file")"
  cp -L "$file" "$ROOT$file"
  tls_env+=("$name=$file")
done
commit=$(git -C "$REPO" rev-parse HEAD)
mkdir -p "$ROOT/work"
git clone -q --no-checkout "$REPO" "$ROOT/work/broker"
git -C "$ROOT/work/broker" checkout -q --detach "$commit"
cp -r "$SHARED" "$ROOT/work/shared"
chmod -R a-w "$ROOT/work/shared"  # as CI lays it: read-only
say "cloned $commit into /work/broker, shared/ beside it"

proxy_pid=""; relay_pid=""; machine_pid=""
cleanup(){
  # unshare --kill-child: ending it ends the namespace's first process, and with it every process in there
  [ -n "$machine_pid" ] && kill "$machine_pid" 2>/dev/null || true
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null || true
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  ip netns del "$NETNS" 2>/dev/null || true
  rm -f "$SOCKET"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 "$HERE/registry_proxy.py" serve --unix "$SOCKET" 2> "$DIR/registry-proxy.log" & proxy_pid=$!
ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
ip netns exec "$NETNS" python3 "$HERE/registry_proxy.py" relay --port "$PROXY_PORT" --unix "$SOCKET" \
  2> "$DIR/registry-relay.log" & relay_pid=$!
for _ in $(seq 50); do [ -S "$SOCKET" ] && break; sleep 0.1; done

proxy=http://127.0.0.1:$PROXY_PORT
T1=$(date +%s)
say "make test PYTEST_ARGS='$*' in the fresh root (network namespace $NETNS: loopback only)"
# In the namespace: a new mount namespace (the mounts vanish with it), pid namespace (whatever the tests
# leave running is killed when make exits) and host name, /proc, /sys, /dev of its own view, then chroot.
PROXY=$proxy TLS_ENV="${tls_env[*]}" ip netns exec "$NETNS" \
  unshare --mount --pid --uts --fork --kill-child --propagation private bash -c '
  set -e
  root=$1; shift
  hostname fresh-machine
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/dev/shm"
  mount -t tmpfs tmpfs "$root/run"
  exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    http_proxy="$PROXY" https_proxy="$PROXY" no_proxy=127.0.0.1,localhost,::1 $TLS_ENV \
    PYTEST_ARGS="$*" bash -c "cd /work/broker && make test"
' fresh-machine "$ROOT" "$@" > "$DIR/make-test.log" 2>&1 &
machine_pid=$!
tail -n +1 --pid="$machine_pid" -f "$DIR/make-test.log"
set +e
wait "$machine_pid"
status=$?
machine_pid=""
set -e
say "make test exited $status after $(( $(date +%s) - T1 ))s (whole check $(( $(date +%s) - T0 ))s); log $DIR/make-test.log"
say "registries reached: $(grep -c -v -e REFUSED -e serving "$DIR/registry-proxy.log" || true) connections;" \
    "refused: $(grep -c REFUSED "$DIR/registry-proxy.log" || true)"
exit "$status"
