from tests.integration.api.conftest import Api, TenantAdmin


def test_admin_creates_tenant_center_pool(api: Api, tenant: TenantAdmin) -> None:
    center = api.call(
        "POST",
        "/rest/v1/centers/openstack",
        {
            "center_definition": {
                "name": "lab",
                "vc_url": "http://127.0.0.1:5000/v3",
                "vc_datacenter": "demo",
                "vc_name": "demo",
                "vc_password": "s3cret-center-pw",
                "allow_cleartext_password": 1,
            }
        },
        sid=tenant.sid,
    )
    assert center.status == 201, center.body
    assert "s3cret-center-pw" not in str(center.body)
    pool = api.call(
        "POST",
        "/rest/v1/pools",
        {
            "name": "desktops",
            "pool_definition": {"restrict_by": "C", "server_ids": [center.body["stored_data"]["id"]]},
            "provision": {"provision_on_off": 0},
        },
        sid=tenant.sid,
    )
    assert pool.status == 201, pool.body
    listed = api.call("GET", "/rest/v1/pools", sid=tenant.sid)
    assert listed.status == 200
    assert [p["name"] for p in listed.body] == ["desktops"]
