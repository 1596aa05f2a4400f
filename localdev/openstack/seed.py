"""Seed the local cloud: flavors, images, networks, router, security group, volume type, AZ, quotas.

Runs under the stack's own venv (start.sh), talking to the services as `realos-admin`.
"""

import io
import os

import openstack

os.environ.setdefault("OS_CLIENT_CONFIG_FILE", os.path.join(os.path.dirname(__file__), "clouds.yaml"))
c = openstack.connect(cloud="realos-admin")
demo = c.identity.find_project("demo")

# The fake hypervisor offers 1000 vCPUs and 800000 MB of RAM: m1.huge (1 TiB RAM) can never be placed,
# so booting it ends in ERROR "No valid host was found". m1.nodisk has disk 0, as many VDI flavors do
# (the root disk then comes from the image or a volume).
FLAVORS = [
    ("m1.tiny", 512, 1, 1),
    ("m1.small", 2048, 1, 20),
    ("m1.nodisk", 512, 1, 0),
    ("m1.huge", 1024 * 1024, 8, 1),
]
for name, ram, vcpus, disk in FLAVORS:
    if not c.compute.find_flavor(name):
        c.compute.create_flavor(name=name, ram=ram, vcpus=vcpus, disk=disk, is_public=True)

# cirros-fake-min2 declares min_disk 2 GiB: the size a boot-from-volume gets when the flavor's disk is 0.
for image_name, min_disk in (("cirros-fake", 0), ("cirros-fake-min2", 2)):
    if not c.image.find_image(image_name):
        img = c.image.create_image(name=image_name, disk_format="raw", container_format="bare",
                                   visibility="public", min_disk=min_disk,
                                   data=io.BytesIO(b"\0" * 1024 * 1024), validate_checksum=False)
        c.image.wait_for_status(img, status="active", wait=60)

pub = c.network.find_network("public")
if not pub:
    pub = c.network.create_network(name="public", is_router_external=True, is_shared=False,
                                   provider_network_type="flat", provider_physical_network="public")
    c.network.create_subnet(name="public-subnet", network_id=pub.id, ip_version=4,
                            cidr="203.0.113.0/24", gateway_ip="203.0.113.1", is_dhcp_enabled=False)
priv = c.network.find_network("private")
if not priv:
    priv = c.network.create_network(name="private", is_shared=True)
    sub = c.network.create_subnet(name="private-subnet", network_id=priv.id, ip_version=4,
                                  cidr="198.51.100.0/24", dns_nameservers=[])
    r = c.network.create_router(name="router1", external_gateway_info={"network_id": pub.id})
    c.network.add_interface_to_router(r, subnet_id=sub.id)

for proj in (c.identity.find_project("admin"), demo):
    sg = c.network.find_security_group("web", project_id=proj.id)
    if not sg:
        sg = c.network.create_security_group(name="web", description="ssh+http", project_id=proj.id)
        for port in (22, 80):
            c.network.create_security_group_rule(security_group_id=sg.id, direction="ingress",
                                                 ethertype="IPv4", protocol="tcp",
                                                 port_range_min=port, port_range_max=port,
                                                 remote_ip_prefix="0.0.0.0/0", project_id=proj.id)

if not c.block_storage.find_type("fake"):
    c.block_storage.create_type(name="fake", extra_specs={"volume_backend_name": "fake"})

if not c.compute.find_aggregate("az1-agg"):
    agg = c.compute.create_aggregate(name="az1-agg", availability_zone="az1")
    c.compute.add_host_to_aggregate(agg, "compute1")

# Room for ~60 tiny desktops (benchmarks, pool tests) with volumes and floating IPs. RAM is generous so
# that m1.huge passes the quota check and fails where a real over-sized boot fails: in the scheduler.
c.compute.update_quota_set(demo, instances=100, cores=400, ram=2 * 1024 * 1024)
c.block_storage.update_quota_set(demo, volumes=100, gigabytes=2000, snapshots=100)
c.network.update_quota(demo.id, floating_ips=100, ports=300)
print("seeded")
