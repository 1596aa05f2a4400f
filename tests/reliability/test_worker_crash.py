"""Invariant 3 with a real death: a worker process dies (exit 137, as a Lambda killed at its timeout) after
the real Nova accepted its create and before it wrote the instance's id to DynamoDB. One scan links the
instance it finds by its metadata: one instance, one desktop record, and nothing created twice after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from chalicelib.domain import provisioning as rules
from chalicelib.services import provisioning, scan
from tests.fixtures.moto_server import SharedAws
from tests.reliability.conftest import OPENSTACK, TENANT, Project, World, counters

pytestmark = OPENSTACK

REPO = Path(__file__).resolve().parents[2]
KILLED = 137

# The worker, with the adapter's create wrapped so that the process dies as soon as Nova has answered.
WORKER_THAT_DIES = """
import json, os, sys
from tests.fixtures.moto_server import apply_env
apply_env(json.loads(sys.argv[1]))
from chalicelib.clouds import openstack as adapter
from chalicelib.services import provisioning

create = adapter.OpenStackCloud.create_server

def create_then_die(self, spec):
    create(self, spec)
    os._exit(137)

adapter.OpenStackCloud.create_server = create_then_die
provisioning.check_pool(int(sys.argv[2]), int(sys.argv[3]), "crash test")
sys.exit("the worker should have died inside its create")
"""


def test_a_worker_killed_between_the_create_and_the_write_is_repaired_by_one_scan(
    shared_aws: SharedAws, project: Any
) -> None:
    cloud_project: Project = project(instances=5)
    world = World(cloud_project.access, shared_aws.queue_url)
    prefix = f"crash{cloud_project.id[:5]}-"
    pool_id = int(world.pool(prefix, threshold=1, maximum=1).id)
    world.worker.drop_all()

    worker = subprocess.run(
        [sys.executable, "-c", WORKER_THAT_DIES, json.dumps(shared_aws.env), str(TENANT), str(pool_id)],
        cwd=REPO, env={**os.environ, **shared_aws.env}, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert worker.returncode == KILLED, worker.stderr[-3000:]

    # What the dead worker left: a record without an instance id, and the instance it never recorded.
    [orphaned] = world.members(pool_id)
    assert orphaned.lifecycle == "provisioning" and orphaned.instance_id is None
    [server] = cloud_project.servers(prefix)
    assert server.metadata[rules.METADATA_DESKTOP] == str(orphaned.id)

    result = scan.scan_center(TENANT, world.center_id)

    assert result["adopted"] == 0 and result["new"] == 0, result
    [linked] = world.members(pool_id)
    assert linked.id == orphaned.id and linked.instance_id == server.id
    assert len(world.records()) == 1
    assert counters.total(TENANT, pool_id) == 1
    assert [s.id for s in cloud_project.servers(prefix)] == [server.id]
    # The pool is full: a check creates nothing, and the follow-up the scan queued finishes the desktop.
    assert provisioning.check_pool(TENANT, pool_id, "after the scan") == 0
    world.worker.run(until=lambda: [d.lifecycle for d in world.members(pool_id)] == ["active"],
                     what="the linked desktop becomes active")
    assert [s.id for s in cloud_project.servers(prefix)] == [server.id]
