#!/bin/bash
# Start Keystone, Placement, Glance, Nova (fake virt), Neutron (ML2, no agents), Cinder (no-data driver)
# on 127.0.0.1, backed by MariaDB + RabbitMQ. Every daemon is started with setsid; its process-group id
# is written to $R/pids/NAME.pid so stop.sh can kill exactly what was started here.
#
# Exit codes: 0 READY, 1 a step failed (see the logs under $R/log), 2 not installed, 3 refused because
# the stack is already running or a port it needs is taken by something else.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
B=$VENV/bin
T0=$(date +%s)
if [ ! -f "$INSTALLED_MARKER" ]; then
  echo "[start] the OpenStack venv is not installed at $VENV; run $HERE/install.sh first" >&2
  exit 2
fi
# Every start is a clean cloud: no database, queue or image left over from an earlier run. Only a dir
# that start.sh made (it carries RUN_DIR_MARKER) is wiped, so a mistyped BROKER_OPENSTACK_RUN is harmless.
RUN_DIR_MARKER=$R/.broker-openstack-run
if [ -d "$R" ] && [ -n "$(ls -A "$R")" ] && [ ! -f "$RUN_DIR_MARKER" ]; then
  echo "[start] $R is not empty and was not made by start.sh; refusing to wipe it (set BROKER_OPENSTACK_RUN)" >&2
  exit 3
fi
group_alive(){ kill -0 -- "-$1" 2>/dev/null; }
live_groups(){ local f; for f in "$R"/pids/*.pid; do [ -f "$f" ] && group_alive "$(cat "$f")" && echo "$f"; done; true; }
port_taken(){ (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Processes recorded in our own run dir are ours: a READY stack is left alone; the leftovers of a
# start that failed half-way are stopped, so wiping the run dir never orphans a daemon.
if [ -n "$(live_groups)" ]; then
  if [ -f "$READY_MARKER" ]; then
    echo "[start] the local OpenStack is already running from $R (stop it with $HERE/stop.sh)" >&2
    exit 3
  fi
  echo "[start] stopping the leftovers of an earlier start in $R"
  "$HERE/stop.sh" >/dev/null
fi
for port in $STACK_PORTS; do
  if port_taken "$port"; then
    echo "[start] port $port on 127.0.0.1 is already taken by something else (not by a stack started from $R)." >&2
    echo "[start] Stop that process (another OpenStack, MariaDB or RabbitMQ?) and try again; refusing to start." >&2
    exit 3
  fi
done
rm -rf "$R"
mkdir -p "$R"; touch "$RUN_DIR_MARKER"
export PYTHONWARNINGS=ignore
say(){ echo "[start $(( $(date +%s)-T0 ))s] $*"; }
bg(){ local name=$1; shift; setsid "$@" > "$R/log/$name.out" 2>&1 < /dev/null & echo $! > "$R/pids/$name.pid"; }
wait_http(){ for _ in $(seq 1 480); do curl -s -o /dev/null "$1" && return 0; sleep 0.25; done; echo "TIMEOUT waiting for $1" >&2; return 1; }
uwsgi_app(){  # name port module ENV=VAL...
  local name=$1 port=$2 module=$3; shift 3
  bg "$name" env "$@" "$B/uwsgi" --http-socket 127.0.0.1:$port --module "$module" --virtualenv "$VENV" \
     --master --processes 1 --threads 4 --enable-threads --lazy-apps --die-on-term \
     --http-keepalive --add-header "Connection: close" --buffer-size 65535 --disable-logging
}
mkdir -p "$R"/{log,pids,data}
"$HERE/gen_configs.sh" >/dev/null

# --- RabbitMQ (boots in the background while the databases are migrated) -----------------
export HOME_RABBIT=$R/data/rabbit; mkdir -p "$HOME_RABBIT"; echo '[].' > "$HOME_RABBIT/enabled_plugins"
RABBIT_ENV=(HOME=$HOME_RABBIT RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672
  RABBITMQ_DIST_PORT=25672 ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_MNESIA_BASE=$HOME_RABBIT/mnesia
  RABBITMQ_LOG_BASE=$R/log/rabbit RABBITMQ_ENABLED_PLUGINS_FILE=$HOME_RABBIT/enabled_plugins
  RABBITMQ_PID_FILE=$HOME_RABBIT/rabbit.pid)
bg epmd env ERL_EPMD_ADDRESS=127.0.0.1 epmd
bg rabbitmq env "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server

# --- Database: MariaDB (default) or SQLite (DB_BACKEND=sqlite) ------------------------------
if [ "${DB_BACKEND:-mariadb}" = sqlite ]; then
  DBURL="sqlite:///$R/data/sql"
else
  DBURL="mysql+pymysql://os:secret@127.0.0.1"
  MY=$R/data/mysql; SOCK=$R/data/mysqlrun/mysqld.sock
  if [ ! -d "$MY/mysql" ]; then
    mkdir -p "$MY" "$R/data/mysqlrun"; chown -R mysql:mysql "$MY" "$R/data/mysqlrun"
    mariadb-install-db --user=mysql --datadir="$MY" --auth-root-authentication-method=socket --skip-test-db > "$R/log/mariadb-install.log" 2>&1
  fi
  bg mariadb mariadbd --user=mysql --datadir="$MY" --socket="$SOCK" --pid-file="$R/data/mysqlrun/mysqld.pid" \
     --bind-address=127.0.0.1 --port=3306 --skip-log-bin --innodb-buffer-pool-size=128M --max-connections=1000 \
     --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --skip-name-resolve
  for _ in $(seq 1 120); do mariadb -S "$SOCK" -uroot -e 'select 1' >/dev/null 2>&1 && break; sleep 0.25; done
  mariadb -S "$SOCK" -uroot -e "CREATE USER IF NOT EXISTS 'os'@'127.0.0.1' IDENTIFIED BY 'secret'; GRANT ALL ON *.* TO 'os'@'127.0.0.1';
    $(for d in keystone placement glance nova_api nova nova_cell0 neutron cinder; do echo "CREATE DATABASE IF NOT EXISTS $d CHARACTER SET utf8mb4;"; done)"
  say "mariadb ready"
fi

# --- schema migrations (parallel) ---------------------------------------------------------
N="--config-file $R/etc/nova/nova.conf"
( "$B/keystone-manage" --config-file "$R/etc/keystone.conf" db_sync &&
  "$B/keystone-manage" --config-file "$R/etc/keystone.conf" fernet_setup --keystone-user root --keystone-group root &&
  "$B/keystone-manage" --config-file "$R/etc/keystone.conf" credential_setup --keystone-user root --keystone-group root &&
  "$B/keystone-manage" --config-file "$R/etc/keystone.conf" bootstrap --bootstrap-password secret \
     --bootstrap-admin-url http://127.0.0.1:5000/v3/ --bootstrap-internal-url http://127.0.0.1:5000/v3/ \
     --bootstrap-public-url http://127.0.0.1:5000/v3/ --bootstrap-region-id RegionOne ) > "$R/log/sync-keystone.log" 2>&1 &
P1=$!
( "$B/placement-manage" --config-dir "$R/etc/placement" db sync &&
  "$B/nova-manage" $N api_db sync &&
  "$B/nova-manage" $N cell_v2 map_cell0 --database_connection "$DBURL/nova_cell0" &&
  { "$B/nova-manage" $N cell_v2 create_cell --name cell1; rc=$?; [ $rc -eq 0 ] || [ $rc -eq 2 ]; } &&  # 2 = exists
  "$B/nova-manage" $N db sync ) > "$R/log/sync-nova.log" 2>&1 &
P2=$!
( "$B/glance-manage" --config-file "$R/etc/glance/glance-api.conf" db_sync &&
  "$B/neutron-db-manage" --config-file "$R/etc/neutron/neutron.conf" --config-file "$R/etc/neutron/plugins/ml2/ml2_conf.ini" upgrade heads &&
  "$B/cinder-manage" --config-file "$R/etc/cinder/cinder.conf" db sync ) > "$R/log/sync-other.log" 2>&1 &
P3=$!
wait $P1 || { echo "keystone sync failed, see $R/log/sync-keystone.log"; exit 1; }
say "keystone schema + bootstrap done"
uwsgi_app keystone 5000 keystone.wsgi.api:application OS_KEYSTONE_CONFIG_FILES=$R/etc/keystone.conf
wait_http http://127.0.0.1:5000/v3
"$B/python" "$HERE/setup_keystone.py"
say "keystone up, catalog created"
wait $P2 || { echo "nova sync failed, see $R/log/sync-nova.log"; exit 1; }
wait $P3 || { echo "glance/neutron/cinder sync failed, see $R/log/sync-other.log"; exit 1; }
say "all schemas migrated"
env "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup --timeout 120
env "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -q add_user os secret 2>/dev/null || true
env "${RABBIT_ENV[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -q set_permissions os '.*' '.*' '.*'
say "rabbitmq ready"

# --- services ----------------------------------------------------------------------------
uwsgi_app placement 8778 placement.wsgi.api:application OS_PLACEMENT_CONFIG_DIR=$R/etc/placement
uwsgi_app glance-api 9292 glance.wsgi.api:application OS_GLANCE_CONFIG_DIR=$R/etc/glance
uwsgi_app nova-api 8774 nova.wsgi.osapi_compute:application OS_NOVA_CONFIG_DIR=$R/etc/nova \
   "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf;nova-api-log.conf"
uwsgi_app neutron-api 9696 neutron.wsgi.api:application OS_NEUTRON_CONFIG_DIR=$R/etc/neutron \
   "OS_NEUTRON_CONFIG_FILES=neutron.conf;plugins/ml2/ml2_conf.ini"
bg cinder-api "$B/cinder-api" --config-file "$R/etc/cinder/cinder.conf"
bg nova-conductor "$B/nova-conductor" $N
bg nova-scheduler "$B/nova-scheduler" $N
bg nova-compute "$B/nova-compute" --config-file "$R/etc/nova/nova-cpu.conf"
bg cinder-scheduler "$B/cinder-scheduler" --config-file "$R/etc/cinder/cinder.conf"
bg cinder-volume "$B/cinder-volume" --config-file "$R/etc/cinder/cinder.conf"
for p in 8778 9292 8774 9696 8776; do wait_http http://127.0.0.1:$p/; done
say "all APIs answer"
export OS_CLIENT_CONFIG_FILE=$HERE/clouds.yaml
"$B/python" - "$B/nova-manage" "$R/etc/nova/nova.conf" "$R/log/discover_hosts.log" <<'PY'
# Wait for nova-compute, its hypervisor record and cinder-volume; say how long each took (slow boxes).
# A hypervisor is listed only once its host is mapped to the cell: rather than wait for the scheduler's
# periodic discovery (up to a minute on a busy box), map it ourselves as soon as nova-compute is up.
import subprocess, sys, time, openstack
nova_manage, nova_conf, discover_log = sys.argv[1:4]
c = openstack.connect(cloud="realos-admin")
started = time.time()
ready_after = {}
last_discovery = 0.0

def hypervisor_listed():
    global last_discovery
    if any(True for _ in c.compute.hypervisors()):
        return True
    if "nova-compute up" in ready_after and time.time() - last_discovery > 5:
        last_discovery = time.time()
        with open(discover_log, "a") as log:
            subprocess.run([nova_manage, "--config-file", nova_conf, "cell_v2", "discover_hosts"],
                           stdout=log, stderr=subprocess.STDOUT, check=False)
    return False

checks = {
    "nova-compute up": lambda: any(s.binary == "nova-compute" and s.state == "up" for s in c.compute.services()),
    "hypervisor listed": hypervisor_listed,
    "cinder-volume up": lambda: any(s.binary == "cinder-volume" and s.state == "up"
                                    for s in c.block_storage.services()),
}
while time.time() < started + 180:
    for name, check in checks.items():
        if name not in ready_after and check():
            ready_after[name] = round(time.time() - started)
    if len(ready_after) == len(checks):
        break
    time.sleep(1)
else:
    raise SystemExit(f"did not come up: {sorted(set(checks) - set(ready_after))}")
print("waited (s):", ready_after)
PY
"$B/nova-manage" $N cell_v2 discover_hosts >> "$R/log/discover_hosts.log" 2>&1
say "nova-compute + cinder-volume up, host discovered"
"$B/python" "$HERE/seed.py"
date -u +%FT%TZ > "$READY_MARKER"
say "READY (export OS_CLIENT_CONFIG_FILE=$HERE/clouds.yaml; clouds realos-admin / realos-demo / realos-domain)"
