"""The broker's HTTP API alone on a port (for the login benchmark): `python -m bench.broker_server PORT`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from chalice.cli.factory import CLIFactory

    from app import app

    factory = CLIFactory(project_dir=str(ROOT))
    server = factory.create_local_server(
        app, factory.create_config_obj(chalice_stage_name="dev"), "127.0.0.1", int(sys.argv[1])
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
