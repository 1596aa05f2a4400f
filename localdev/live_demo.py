"""`make run`'s live desktop: one real desktop on loopback and a local noVNC gateway in front of it, known to
the broker as a desktop registered by hand in an uncategorized center, offered to the demo user `bob`
(localdev/demo.py). `BROKER_LIVE_DESKTOP=off` leaves it out.

The gateway is what gateway/ deploys next to real desktops, here on 127.0.0.1: websockify serving noVNC and
checking each token with the public key of the broker's gateway record.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from localdev import live_desktop

COLOUR = "#2e5c8a"


@dataclass
class LiveDemo:
    processes: live_desktop.LocalProcesses = field(default_factory=live_desktop.LocalProcesses)
    folder: Path | None = None

    @staticmethod
    def wanted() -> bool:
        return os.environ.get("BROKER_LIVE_DESKTOP", "on").lower() not in ("off", "0", "no", "false")

    def start(self, admin_password: str) -> list[str]:
        """Start the desktop and the gateway and register them with the broker; what to print."""
        missing = live_desktop.missing_programs(("xterm",))
        if missing:
            return [f"live desktop  not started: {', '.join(missing)} missing (make run installs "
                    "debian-packages.txt)"]
        from localdev import demo

        self.folder = Path(tempfile.mkdtemp(prefix="broker-live-desktop-"))
        desktop = live_desktop.start_desktop(self.processes, COLOUR, with_terminal=True)
        gateway_port = int(os.environ.get("BROKER_GATEWAY_PORT") or live_desktop.free_port())
        gateway_url = f"http://127.0.0.1:{gateway_port}/"
        admin = demo.demo_admin(admin_password)
        key, lines = demo.seed_live_desktop(admin, desktop.vnc_host, desktop.vnc_port, gateway_url)
        key_file = self.folder / "broker-verification-key.pem"
        key_file.write_text(key)
        log = self.folder / "websockify.log"
        live_desktop.start_gateway(self.processes, key_file, port=gateway_port, log=log)
        return [*lines, f"gateway log   {log}"]

    def stop(self) -> None:
        self.processes.stop()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
