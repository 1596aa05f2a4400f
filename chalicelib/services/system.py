"""System health in the spirit of the reference's `SystemHealth`."""

from __future__ import annotations

import os
import socket

from chalicelib.schemas.admin import (
    BrokerStatus,
    ComponentReachable,
    ComponentRunning,
    HealthComponents,
    LoadComponent,
    SystemHealth,
)
from chalicelib.store import stores
from chalicelib.store.repos import database_reachable


def health() -> SystemHealth:
    db_ok = database_reachable()
    queue_ok = stores.queue.reachable()
    secrets_ok = stores.secrets.reachable()
    try:
        avg_1, avg_5, avg_15 = os.getloadavg()
        load = LoadComponent(
            msg="high load" if avg_5 > (os.cpu_count() or 1) * 2 else "OK",
            avg_1=round(avg_1, 2),
            avg_5=round(avg_5, 2),
            avg_15=round(avg_15, 2),
        )
    except OSError:
        load = LoadComponent(msg="unable to retrieve loadavg")
    all_ok = db_ok and queue_ok and secrets_ok
    return SystemHealth(
        components=HealthComponents(
            db_internal=ComponentReachable(msg="OK" if db_ok else "cannot connect", reachable=int(db_ok)),
            work_queue=ComponentRunning(msg="OK" if queue_ok else "not running", running=int(queue_ok)),
            secrets=ComponentReachable(
                msg="OK" if secrets_ok else "cannot connect", reachable=int(secrets_ok)
            ),
            load=load,
        ),
        broker=BrokerStatus(hostname=socket.gethostname(), msg="OK" if all_ok else "not OK"),
    )
