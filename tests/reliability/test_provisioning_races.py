"""Invariant 2 under a real race: 20 worker processes (as 20 concurrent Lambda instances) check the same
pool at the same moment, sharing one DynamoDB endpoint (moto's server, one request at a time as DynamoDB
applies each conditional write) and one real Nova. The pool ends with exactly its maximum: never one
instance too many, never two instances for one desktop, and its count equal to its records."""

from __future__ import annotations

import faulthandler
import multiprocessing
from typing import Any

from chalicelib.domain import provisioning as rules
from chalicelib.services import provisioning, scan
from chalicelib.store.repos import AuditStore
from tests.fixtures.moto_server import SharedAws
from tests.reliability.conftest import OPENSTACK, TENANT, Project, World, counters

pytestmark = OPENSTACK

RACERS = 20
MAXIMUM = 8


def _racer(env: dict[str, str], pool_id: int, start: Any, results: Any) -> None:
    """One worker process: warm up (imports, settings, tables), wait for the start line, check the pool."""
    faulthandler.dump_traceback_later(540, exit=True)  # a racer stuck somewhere says where, then leaves
    try:
        from tests.fixtures.moto_server import apply_env

        apply_env(env)
        import chalicelib.clouds.openstack  # noqa: F401 - the SDK's import cost is paid before the start line
        from chalicelib.services import provisioning

        start.wait(timeout=300)
        results.put(("ok", provisioning.check_pool(TENANT, pool_id, "race")))
    except BaseException as error:  # reported to the test, which fails on it
        results.put(("error", repr(error)))


def test_twenty_processes_checking_one_pool_create_exactly_its_maximum(
    shared_aws: SharedAws, project: Any
) -> None:
    cloud_project: Project = project(instances=30)
    world = World(cloud_project.access, shared_aws.queue_url)
    prefix = f"race{cloud_project.id[:5]}-"
    pool = world.pool(prefix, threshold=MAXIMUM, maximum=MAXIMUM)
    pool_id = int(pool.id)
    world.worker.drop_all()  # the save's own check: the racers make theirs

    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(RACERS), context.Queue()
    racers = [context.Process(target=_racer, args=(shared_aws.env, pool_id, start, results))
              for _ in range(RACERS)]
    try:
        for racer in racers:
            racer.start()
        outcomes = [results.get(timeout=600) for _ in racers]
    finally:
        for racer in racers:
            racer.join(timeout=30)
            if racer.is_alive():
                racer.terminate()  # only the processes this test started, by their own handle
    errors = [detail for kind, detail in outcomes if kind == "error"]
    assert not errors, errors
    # Exactly one check reserved, and it reserved the whole deficit; the 19 others found nothing to create.
    requested = [e for e in AuditStore().list(TENANT, limit=1000) if e.type == "provision.requested"]
    assert [len(e.details["names"]) for e in requested] == [MAXIMUM], [e.message for e in requested]
    assert sum(created for _, created in outcomes) <= MAXIMUM
    # On a loaded machine Nova may answer a create after the adapter stopped waiting (the create is then
    # left unconfirmed, never sent twice): what Nova built shows up, and the scan links it.
    servers = cloud_project.wait_for_servers(lambda found: len(found) >= MAXIMUM, "all servers built", prefix)
    scan.scan_center(TENANT, world.center_id)

    names = [server.name for server in servers]
    assert len(servers) == MAXIMUM, sorted(names)
    assert len(set(names)) == MAXIMUM, f"duplicate instances: {sorted(names)}"
    # A racer that lost the reservation took no {SEQUENCE} number: the names have no gap.
    assert sorted(names) == [f"{prefix}{n:02d}" for n in range(1, MAXIMUM + 1)], sorted(names)
    desktop_ids = [server.metadata[rules.METADATA_DESKTOP] for server in servers]
    assert len(set(desktop_ids)) == MAXIMUM, "two instances carry one desktop's id"
    members = world.members(pool_id)
    assert counters.total(TENANT, pool_id) == MAXIMUM == len(members)
    assert sorted(str(d.id) for d in members) == sorted(desktop_ids)
    assert sorted(d.instance_id for d in members) == sorted(server.id for server in servers)
    # and a check after the race still creates nothing
    assert provisioning.check_pool(TENANT, pool_id, "after the race") == 0
    assert len(cloud_project.servers(prefix)) == MAXIMUM
