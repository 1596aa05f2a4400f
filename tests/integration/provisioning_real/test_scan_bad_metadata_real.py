"""The scan against the real Nova: an instance whose `broker_desktop_id` a project member set to text is
skipped and logged, and the scan goes on (an instance made by hand beside it is found)."""

from __future__ import annotations

import logging

import pytest

from chalicelib.clouds import use_cloud_factory
from chalicelib.domain import provisioning as rules
from chalicelib.domain.caller import Caller
from chalicelib.schemas.centers import CenterCreate, CenterDefinition
from chalicelib.services import centers, scan
from chalicelib.store.desktops import DesktopStore
from localdev.openstack import sdk
from tests.fixtures.aws import AwsStack

pytestmark = [
    pytest.mark.openstack,
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning"),
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK60Warning"),
]

TENANT = 5
ADMIN = Caller(tenant_id=TENANT, user_id=1, login="boss", role="Administrator")


def test_a_server_with_text_in_its_broker_metadata_is_skipped_by_the_real_scan(
    aws: AwsStack, real_openstack: object, caplog: pytest.LogCaptureFixture
) -> None:
    use_cloud_factory(None)
    with sdk.scratch_project("badmeta", instances=4) as project:
        conn = sdk.connect(project.access)  # a member of the project, as anyone with access would be
        image = conn.image.find_image("cirros-fake", ignore_missing=False)
        flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
        network = conn.network.find_network("private", ignore_missing=False)

        def server(name: str, metadata: dict[str, str]) -> str:
            return conn.compute.create_server(name=name, image_id=image.id, flavor_id=flavor.id,
                                              networks=[{"uuid": network.id}], metadata=metadata).id

        vandalised = server("vandalised", {rules.METADATA_TENANT: str(TENANT),
                                           rules.METADATA_DESKTOP: "not-a-number"})
        hand_made = server("hand-made", {})
        access = project.access
        center = centers.create_center(ADMIN, "openstack", CenterCreate(center_definition=CenterDefinition(
            name="badmeta", vc_url=access.auth_url, vc_domain=access.domain, vc_datacenter=access.project,
            vc_name=access.username, vc_password=access.password, vc_version=access.region or "",
            allow_cleartext_password=int(access.auth_url.startswith("http://")))))
        assert conn.compute.get_server(vandalised).metadata[rules.METADATA_DESKTOP] == "not-a-number"

        with caplog.at_level(logging.WARNING, logger="broker.scan"):
            result = scan.scan_center(TENANT, int(center.id))

        assert result["skipped"] == 1 and result["new"] == 1, result
        found = {d.instance_id for d in DesktopStore().of_center(TENANT, int(center.id))}
        assert found == {hand_made}
        assert any(vandalised in r.getMessage() and "broker_desktop_id" in r.getMessage()
                   for r in caplog.records)
