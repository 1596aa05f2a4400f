"""Create service users, catalog entries and the demo project in a freshly bootstrapped Keystone."""

import openstack

PASSWORD = "secret"  # noqa: S105 (the local cloud's published test password)
REGION = "RegionOne"
ENDPOINTS = {
    "compute": ("nova", "http://127.0.0.1:8774/v2.1"),
    "placement": ("placement", "http://127.0.0.1:8778"),
    "image": ("glance", "http://127.0.0.1:9292"),
    "network": ("neutron", "http://127.0.0.1:9696"),
    "block-storage": ("cinder", "http://127.0.0.1:8776/v3"),
    "volumev3": ("cinderv3", "http://127.0.0.1:8776/v3"),
}

conn = openstack.connect(auth_url="http://127.0.0.1:5000/v3", username="admin", password=PASSWORD,
                         project_name="admin", user_domain_id="default", project_domain_id="default",
                         region_name=REGION, identity_interface="public")
identity = conn.identity
domain = identity.find_domain("default")


def project(name):
    return identity.find_project(name, domain_id=domain.id) or identity.create_project(name=name,
                                                                                       domain_id=domain.id)


def role(name):
    return identity.find_role(name) or identity.create_role(name=name)


def user(name, home_project, roles):
    found = identity.find_user(name, domain_id=domain.id) or identity.create_user(
        name=name, password=PASSWORD, domain_id=domain.id, default_project_id=home_project.id)
    for granted in roles:
        identity.assign_project_role_to_user(home_project, found, granted)
    return found


service_project = project("service")
demo_project = project("demo")
admin_role, member_role, service_role = role("admin"), role("member"), role("service")
for service_user in ["nova", "placement", "glance", "neutron", "cinder"]:
    user(service_user, service_project, [admin_role, service_role])
user("demo", demo_project, [member_role])  # demo stays a plain member, like a broker's center account
admin_user = identity.find_user("admin", domain_id=domain.id)
identity.assign_project_role_to_user(demo_project, admin_user, admin_role)  # admin may fix demo's quotas

for service_type, (service_name, url) in ENDPOINTS.items():
    service = next((known for known in identity.services() if known.type == service_type), None)
    service = service or identity.create_service(name=service_name, type=service_type)
    for interface in ("public", "internal", "admin"):
        if not list(identity.endpoints(service_id=service.id, interface=interface)):
            identity.create_endpoint(service_id=service.id, interface=interface, url=url, region_id=REGION)
print("keystone catalog ready")
identity.assign_domain_role_to_user(domain, admin_user, admin_role)  # domain-scoped tokens need a domain role
print("admin has admin role on domain default")
