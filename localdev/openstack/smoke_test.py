"""End-to-end check of the local cloud with plain openstacksdk. Exit 0 == all good.

    OS_CLIENT_CONFIG_FILE=localdev/openstack/clouds.yaml <venv>/bin/python localdev/openstack/smoke_test.py
"""

import os
import sys
import time

import openstack

os.environ.setdefault("OS_CLIENT_CONFIG_FILE", os.path.join(os.path.dirname(__file__), "clouds.yaml"))
CLOUD = sys.argv[1] if len(sys.argv) > 1 else "realos-demo"
STARTED = time.time()


def log(*parts):
    print(f"[{time.time() - STARTED:6.1f}s]", *parts, flush=True)


# 1. auth: domain scoped + project scoped
domain_conn = openstack.connect(cloud="realos-domain")
projects = sorted(project.name for project in domain_conn.identity.projects(domain_id="default"))
log("domain-scoped token ok; projects in domain:", projects)
c = openstack.connect(cloud=CLOUD)
log("project-scoped token ok; project", c.current_project_id)

# 2. listings
log("flavors", [flavor.name for flavor in c.compute.flavors()])
log("images", [(image.name, image.status) for image in c.image.images()])
log("networks", [network.name for network in c.network.networks()])
log("AZs", [(zone.name, zone.state) for zone in c.compute.availability_zones()])
log("volume AZs", [zone.name for zone in c.block_storage.availability_zones()])
log("secgroups", [group.name for group in c.network.security_groups()])
log("volume types", [kind.name for kind in c.block_storage.types()])

flavor = c.compute.find_flavor("m1.tiny")
image = c.image.find_image("cirros-fake")
private = c.network.find_network("private")
public = c.network.find_network("public")


def watch(server, target="ACTIVE", timeout=120):
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        current = c.compute.get_server(server.id)
        if not seen or seen[-1] != current.status:
            seen.append(current.status)
        if current.status == target:
            return current, seen
        if current.status == "ERROR":
            raise RuntimeError(f"server ERROR: {current.fault}")
        time.sleep(0.5)
    raise TimeoutError(f"{server.id} stuck, statuses {seen}")


# 3. server from image
s1 = c.compute.create_server(name="smoke-image", image_id=image.id, flavor_id=flavor.id,
                             networks=[{"uuid": private.id}], security_groups=[{"name": "web"}],
                             availability_zone="az1", metadata={"role": "web", "ci": "yes"})
s1, seen = watch(s1)
log("smoke-image statuses", seen, "AZ", s1.availability_zone, "md", s1.metadata, "addr", s1.addresses)

# 4. boot from a new volume created from the image
root_disk = {"boot_index": 0, "uuid": image.id, "source_type": "image", "destination_type": "volume",
             "volume_size": 1, "delete_on_termination": True}
s2 = c.compute.create_server(name="smoke-bfv", flavor_id=flavor.id, networks=[{"uuid": private.id}],
                             block_device_mapping=[root_disk])
s2, seen = watch(s2)
log("smoke-bfv statuses", seen, "volumes", [volume["id"] for volume in s2.attached_volumes])
bfv_volume = s2.attached_volumes[0]["id"]
log("bfv volume", c.block_storage.get_volume(bfv_volume).status)

# 5. floating IP
port = next(c.network.ports(device_id=s1.id))
log("port binding", port.binding_vif_type, port.status)
fip = c.network.create_ip(floating_network_id=public.id)
c.network.update_ip(fip, port_id=port.id)
fip = c.network.get_ip(fip.id)
log("floating ip", fip.floating_ip_address, "->", fip.fixed_ip_address, fip.status)
for _ in range(20):
    addresses = c.compute.get_server(s1.id).addresses
    if any(entry.get("OS-EXT-IPS:type") == "floating" for entries in addresses.values() for entry in entries):
        break
    time.sleep(0.5)
log("server addresses", addresses)

# 6. power actions
c.compute.stop_server(s1)
watch(s1, "SHUTOFF")
log("stopped")
c.compute.start_server(s1)
watch(s1, "ACTIVE")
log("started")
c.compute.reboot_server(s1, "SOFT")
time.sleep(1)
watch(s1, "ACTIVE")
log("rebooted")
c.compute.suspend_server(s1)
watch(s1, "SUSPENDED")
log("suspended")
c.compute.resume_server(s1)
watch(s1, "ACTIVE")
log("resumed")

# 7. delete
c.network.delete_ip(fip)
for server in (s1, s2):
    c.compute.delete_server(server)
for server in (s1, s2):
    c.compute.wait_for_delete(server, wait=120)
log("servers deleted")
for _ in range(60):
    if not c.block_storage.find_volume(bfv_volume):
        break
    time.sleep(1)
leftover = c.block_storage.find_volume(bfv_volume)
log("bfv volume after delete:", leftover.status if leftover else "gone")
log("ALL OK")
