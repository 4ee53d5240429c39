"""A real mosquitto broker on a loopback port, started and stopped by tests."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = Path("/usr/sbin/mosquitto")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Broker:
    """A mosquitto on a fixed loopback port that a test can stop and start."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.config = tmp_path / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                               "persistence false\n")
        self.log = tmp_path / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not MOSQUITTO.exists():
            raise RuntimeError("mosquitto not found: install the Debian package mosquitto")
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        self.proc = None
