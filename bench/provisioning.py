"""A deficit of N (50, 150): from saving a pool until all N create requests reached the local OpenStack's
Nova.

Runs in a throw-away project of the local OpenStack (quota for N + 10 instances), with DynamoDB and SQS in
moto; the pool is saved through the service, its `pool.check` message taken off the queue and handed
to the worker, whose check sends every create without waiting for a build. The center's build limit is
N, so that one check creates the whole deficit.

Where the time goes is measured in the same run: the creates the worker sends are timed (first sent,
last answered), so the broker's share is the time before the first create and after the last answer.
Beside it, the same N creates sent by the plain SDK, as many at once as the worker sends them, in
another throw-away project: on a small machine that runs the whole cloud, Nova accepts creates at a
fixed pace whatever the concurrency (its API, conductor, scheduler and the builds share the cores).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest.mock import patch

from chalicelib.domain.cloud import CenterAccess
from localdev.openstack import sdk, stack


def run_deficit_bench(deficit: int = 50) -> dict[str, Any]:
    started_here = False
    if not stack.is_running():
        stack.ensure_installed()
        started_here = stack.start()
    try:
        with sdk.scratch_project(
            "bench", instances=deficit + 10, cores=4 * deficit, ram=1024 * 1024, ports=deficit + 20
        ) as project:
            figures = _measure(project.access, deficit)
        figures["plain_sdk_seconds"] = round(_plain_sdk_creates(deficit), 2)
        return {f"deficit{deficit}_{name}": value for name, value in figures.items()}
    finally:
        if started_here:
            stack.stop()


def _plain_sdk_creates(count: int) -> float:
    """Seconds the plain SDK takes to have `count` creates answered, sent as the worker sends them."""
    from chalicelib.services.provisioning import CREATE_CONCURRENCY

    with sdk.scratch_project("pace", instances=count + 5, cores=4 * count, ram=1024 * 1024,
                             ports=count + 10) as project:
        conn = sdk.connect(project.access)
        image = conn.image.find_image("cirros-fake")
        flavor = conn.compute.find_flavor("m1.tiny")
        network = conn.network.find_network("private")

        def create(index: int) -> None:
            conn.compute.create_server(name=f"pace-{index:03d}", image_id=image.id, flavor_id=flavor.id,
                                       networks=[{"uuid": network.id}], availability_zone="az1")

        started = time.perf_counter()
        with ThreadPoolExecutor(CREATE_CONCURRENCY) as threads:
            list(threads.map(create, range(count)))
        return time.perf_counter() - started


def _measure(access: CenterAccess, deficit: int) -> dict[str, Any]:
    from tests.fixtures.aws import aws_stack_context

    with aws_stack_context():
        from chalicelib.clouds import open_cloud
        from chalicelib.clouds.openstack import OpenStackCloud
        from chalicelib.domain.caller import Caller
        from chalicelib.jobs.worker import handle_message
        from chalicelib.schemas.centers import CenterCreate, CenterDefinition
        from chalicelib.schemas.pools import PoolBody
        from chalicelib.services import centers, pools
        from chalicelib.store.aws import client
        from chalicelib.store.queue import queue_url

        admin = Caller(tenant_id=1, user_id=1, login="bench", role="Administrator")
        center = centers.create_center(
            admin,
            "openstack",
            CenterCreate(center_definition=CenterDefinition(
                name="bench",
                vc_url=access.auth_url,
                vc_domain=access.domain,
                vc_datacenter=access.project,
                vc_name=access.username,
                vc_password=access.password,
                vc_version=access.region or "",
                allow_cleartext_password=int(access.auth_url.startswith("http://")),  # the local cloud
                # The whole deficit at once: by default a center has at most 10 instances building.
                build_limit=deficit,
            )),
        )
        sqs = client("sqs")
        sqs.purge_queue(QueueUrl=queue_url())
        cloud = open_cloud(access)  # the connection the worker's check will use (cached per access)
        cloud.reset_request_counts()
        creates: list[tuple[float, float]] = []
        create_server = OpenStackCloud.create_server

        def timed_create(adapter: OpenStackCloud, spec: Any) -> Any:
            sent = time.perf_counter()
            try:
                return create_server(adapter, spec)
            finally:
                creates.append((sent, time.perf_counter()))

        body = PoolBody.model_validate(
            {
                "name": "deficit",
                "pool_definition": {"restrict_by": "C", "server_ids": [int(center.id)]},
                "provision": {
                    "provision_on_off": 1,
                    "provision_threshold": deficit,
                    "provision_max": deficit,
                    "provision_vm_name": "bench-{SEQUENCE:3}",
                    "center": {
                        "type": "openstack",
                        "id": int(center.id),
                        "image": "cirros-fake",
                        "flavor": "m1.tiny",
                        "network": "private",
                        "availability_zone": "az1",
                    },
                },
            }
        )
        started = time.perf_counter()
        pools.create_pool(admin, body)
        handled = 0
        with patch.object(OpenStackCloud, "create_server", timed_create):  # the worker's adapters, timed
            while handled == 0:
                for message in sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10).get(
                    "Messages", []
                ):
                    if '"pool.check"' in message["Body"]:
                        handle_message(message["Body"])
                        handled += 1
        seconds = time.perf_counter() - started
        counts = cloud.request_counts
        created = len([s for s in cloud.list_servers() if s.name.startswith("bench-")])
        first_sent = min(sent for sent, _ in creates)
        last_answered = max(answered for _, answered in creates)
        return {
            "seconds": round(seconds, 2),
            "nova_seconds": round(last_answered - first_sent, 2),
            "broker_share_seconds": round(seconds - (last_answered - first_sent), 2),
            "created": created,
            "openstack_requests_per_desktop": round(counts.other / max(created, 1), 2),
            "openstack_token_requests": counts.token,
            "openstack_inventory_requests": counts.inventory,
            "openstack_requests_total": counts.total,
        }
