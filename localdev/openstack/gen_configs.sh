#!/bin/bash
# Writes all service config files under $R/etc (paths from env.sh; start.sh calls this).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [ "${DB_BACKEND:-mariadb}" = sqlite ]; then DB="sqlite:///$R/data/sql"; mkdir -p $R/data/sql; else DB="mysql+pymysql://os:secret@127.0.0.1"; fi
MQ="rabbit://os:secret@127.0.0.1:5672/"
KS=http://127.0.0.1:5000
mkdir -p $R/etc/{nova,placement,glance,neutron/plugins/ml2,cinder} $R/log $R/pids $R/data/{nova,glance/images,glance/staging,glance/tasks,neutron,cinder,locks,keystone}

authtoken() {  # $1 = service user
cat <<E
[keystone_authtoken]
www_authenticate_uri = $KS
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = secret
service_token_roles_required = true
memcached_servers =
E
}
svcauth() {  # section body for a keystone password plugin
cat <<E
auth_type = password
auth_url = $KS
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = secret
region_name = RegionOne
E
}

cat > $R/etc/keystone.conf <<E
[DEFAULT]
log_file = $R/log/keystone.log
[database]
connection = $DB/keystone
[token]
provider = fernet
[fernet_tokens]
key_repository = $R/data/keystone/fernet-keys
[fernet_receipts]
key_repository = $R/data/keystone/fernet-keys
[credential]
key_repository = $R/data/keystone/credential-keys
[identity]
password_hash_rounds = 4
E

cat > $R/etc/placement/placement.conf <<E
[DEFAULT]
log_file = $R/log/placement.log
[placement_database]
connection = $DB/placement
[api]
auth_strategy = keystone
$(authtoken placement)
E

cat > $R/etc/nova/nova.conf <<E
[DEFAULT]
transport_url = $MQ
compute_driver = fake.FakeDriver
host = compute1
my_ip = 127.0.0.1
my_block_storage_ip = 127.0.0.1
state_path = $R/data/nova
instances_path = $R/data/nova/instances
log_dir = $R/log
use_rootwrap_daemon = false
osapi_compute_workers = 1
metadata_workers = 1
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $R/etc/nova/api-paste.ini
[api_database]
connection = $DB/nova_api
[database]
connection = $DB/nova
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[filter_scheduler]
host_subset_size = 1
[oslo_concurrency]
lock_path = $R/data/locks
[oslo_messaging_notifications]
driver = noop
$(authtoken nova)
[placement]
$(svcauth placement)
[neutron]
$(svcauth neutron)
[cinder]
$(svcauth cinder | sed 's/region_name/os_region_name/')
catalog_info = volumev3::publicURL
[glance]
$(svcauth nova)
[service_user]
send_service_user_token = true
$(svcauth nova)
[vnc]
enabled = false
[spice]
enabled = false
[compute]
resource_provider_association_refresh = 10
[notifications]
notification_format = unversioned
[nova_sys_admin]
helper_command = $VENV/bin/privsep-helper --config-file $R/etc/nova/nova.conf
[privsep_osbrick]
helper_command = $VENV/bin/privsep-helper --config-file $R/etc/nova/nova.conf
E

printf '[DEFAULT]\nlog_file = %s\n' "$R/log/nova-api.log" > $R/etc/nova/nova-api-log.conf
# nova-compute must not have DB credentials (avoids "No DB access allowed in nova-compute")
grep -v '^connection = ' $R/etc/nova/nova.conf > $R/etc/nova/nova-cpu.conf

cat > $R/etc/glance/glance-api.conf <<E
[DEFAULT]
log_file = $R/log/glance-api.log
bind_host = 127.0.0.1
bind_port = 9292
workers = 1
enabled_backends = file:file
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $R/data/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $R/data/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $R/data/glance/tasks
[database]
connection = $DB/glance
[paste_deploy]
flavor = keystone
[oslo_concurrency]
lock_path = $R/data/locks
$(authtoken glance)
E
cp $VENV/etc/glance/glance-api-paste.ini $R/etc/glance/
cp $VENV/etc/nova/api-paste.ini $R/etc/nova/

cat > $R/etc/neutron/neutron.conf <<E
[DEFAULT]
log_file = $R/log/neutron-api.log
core_plugin = ml2
service_plugins = agentless_router
auth_strategy = keystone
transport_url = $MQ
allow_overlapping_ips = true
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
state_path = $R/data/neutron
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
api_paste_config = $VENV/etc/neutron/api-paste.ini
[database]
connection = $DB/neutron
[oslo_concurrency]
lock_path = $R/data/locks
$(authtoken neutron)
[nova]
$(svcauth nova)
[agent]
root_helper =
E
cat > $R/etc/neutron/plugins/ml2/ml2_conf.ini <<E
[ml2]
type_drivers = flat,vxlan,local
tenant_network_types = vxlan
mechanism_drivers = alwaysbind
extension_drivers = port_security
[ml2_type_flat]
flat_networks = public
[ml2_type_vxlan]
vni_ranges = 1:1000
[securitygroup]
enable_security_group = true
E

cat > $R/etc/cinder/cinder.conf <<E
[DEFAULT]
log_dir = $R/log
transport_url = $MQ
auth_strategy = keystone
enabled_backends = fake
default_volume_type = __DEFAULT__
glance_api_servers = http://127.0.0.1:9292
state_path = $R/data/cinder
my_ip = 127.0.0.1
host = cinder1
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = 8776
osapi_volume_workers = 1
api_paste_config = $VENV/etc/cinder/api-paste.ini
rootwrap_config = $VENV/etc/cinder/rootwrap.conf
resource_query_filters_file = $VENV/etc/cinder/resource_filters.json
[fake]
volume_driver = realos_fakes.cinder_driver.NoDataVolumeDriver
volume_backend_name = fake
[cinder_sys_admin]
helper_command = $VENV/bin/privsep-helper --config-file $R/etc/cinder/cinder.conf
[privsep_osbrick]
helper_command = $VENV/bin/privsep-helper --config-file $R/etc/cinder/cinder.conf
[database]
connection = $DB/cinder
[oslo_concurrency]
lock_path = $R/data/locks
$(authtoken cinder)
[nova]
$(svcauth nova)
E
echo "configs written to $R/etc"
