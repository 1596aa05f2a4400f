"""The HTTP path never imports openstacksdk: only the OpenStack adapter's modules may, at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

PROBE = """
import importlib, pkgutil, sys
import chalicelib
skipped = {"chalicelib.clouds.openstack", "chalicelib.clouds.openstack_errors",
           "chalicelib.clouds.openstack_session"}
failures = []
for module in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
    if module.name in skipped:
        continue
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failures.append(f"{module.name}: {error!r}")
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("openstack", "keystoneauth1"))
    if loaded:
        print(f"{module.name} imported {loaded[0]}")
        sys.exit(1)
print("\\n".join(failures) or "clean")
"""


def test_no_chalicelib_module_but_the_adapters_import_openstack() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "clean", result.stdout


def test_open_cloud_loads_the_adapter_on_first_use_only() -> None:
    probe = (
        "import sys; from chalicelib.clouds import open_cloud; "
        "assert 'openstack' not in sys.modules; "
        "from chalicelib.domain.cloud import CenterAccess; "
        "cloud = open_cloud(CenterAccess('http://127.0.0.1:9/v3', 'Default', 'p', 'u', 'pw')); "
        "assert 'openstack' in sys.modules; print(type(cloud).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "OpenStackCloud", result.stderr
