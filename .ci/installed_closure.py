"""Print the pinned closure of a requirements file as installed in this environment: every distribution it
names and, transitively, every one they require (with the extras asked for), as `name==version` lines.

`make lint` audits this list with `pip-audit --no-deps --disable-pip`: the versions the tests ran with, and
no throw-away virtual env in which pip-audit would install the whole file again (about a minute of a CI run).

    .venv/bin/python .ci/installed_closure.py requirements.txt > closure.txt
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def requirements_of(path: str) -> list[Requirement]:
    with open(path, encoding="utf-8") as file:
        lines = [line.split("#", 1)[0].strip() for line in file]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def installed_closure(roots: list[Requirement]) -> dict[str, str]:
    """name -> installed version of every distribution the roots need in this environment."""
    versions: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    todo = list(roots)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in versions and extras <= extras_seen[name]:
            continue
        distribution = metadata.distribution(requirement.name)  # PackageNotFoundError: not installed
        versions[name] = distribution.version
        extras_seen[name] = extras_seen.get(name, set()) | extras
        for line in distribution.requires or []:
            needed = Requirement(line)
            markers = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if needed.marker is None or any(needed.marker.evaluate(m) for m in markers):
                todo.append(needed)
    return versions


def main(path: str) -> None:
    for name, version in sorted(installed_closure(requirements_of(path)).items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main(sys.argv[1])
