"""Where a desktop is in its life, as the broker records it (`Desktop.lifecycle`, entities/desktops.py).

A StrEnum: the members are the strings stored before, so records need no migration and a stored value
compares equal to its member. Its power state is `domain/cloud.PowerState`, its session (as its agent
reports it) `domain/sessions.SessionState`.
"""

from __future__ import annotations

from enum import StrEnum


class DesktopLifecycle(StrEnum):
    PROVISIONING = "provisioning"  # reserved, or its instance is being created
    ACTIVE = "active"  # ready: may be offered (with the right power state and availability)
    ERROR = "error"  # its creation failed
    DELETED = "deleted"  # its instance is gone; the record stays a while for the history (retire.py)


GONE_OR_FAILED = frozenset({DesktopLifecycle.DELETED, DesktopLifecycle.ERROR})  # not counted in its pool
