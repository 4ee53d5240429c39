"""Real processes for end-to-end tests: the engine and the test caller.

Every process gets ephemeral ports on 127.0.0.1 and a bounded lifetime.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from callcenter.core.store import Store

_SERVING = re.compile(r"serving on sip:[\d.]+:(\d+)")
_STATUS = re.compile(r"node status (\{.*\})")
_API = re.compile(r"control API on (http://\S+)")


def callcenter_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "callcenter", *args]


class EngineProcess:
    """`callcenter serve` in a subprocess, with its stderr collected."""

    def __init__(self, data_dir: Path, settings: dict[str, Any] | None = None) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        # No dialog flow unless a test asks for one: loading the speech models
        # costs seconds, and most tests are about calls, not conversations.
        # A short drain: teardown's SIGTERM must not wait out a live call.
        base: dict[str, Any] = {"sip": {"rtp_port": 0, "media_timeout_s": 15},
                                "engine": {"max_call_s": 30, "flow": None,
                                           "drain_timeout_s": 2},
                                "api": {"port": 0}}
        for section, values in (settings or {}).items():
            base.setdefault(section, {}).update(values)
        self.config = data_dir / "test-settings.yaml"
        self.config.write_text(yaml.safe_dump(base))
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.api_url = ""  # the control API's URL, once started (api.enabled)
        self._lines: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 30) -> EngineProcess:
        self._lines = []
        self.proc = subprocess.Popen(
            callcenter_cmd("serve", "--config", str(self.config), "--sip-host", "127.0.0.1",
                           "--sip-port", "0", "--data-dir", str(self.data_dir)),
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self._lines):
                if match := _API.search(line):
                    self.api_url = match.group(1)
                if match := _SERVING.search(line):
                    self.port = int(match.group(1))
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError("engine exited at start:\n" + self.log)
            time.sleep(0.05)
        raise RuntimeError("engine did not start in time:\n" + self.log)

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self._lines)

    def uri(self, user: str = "100", transport: str | None = None) -> str:
        suffix = f";transport={transport}" if transport else ""
        return f"sip:{user}@127.0.0.1:{self.port}{suffix}"

    def status(self, timeout: float = 10) -> dict[str, Any]:
        """Ask for a `node status` line with SIGUSR1 and parse it."""
        assert self.proc is not None
        seen = len(self._lines)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self._lines[seen:]:
                if match := _STATUS.search(line):
                    return dict(json.loads(match.group(1)))
            time.sleep(0.05)
        raise RuntimeError("no status line:\n" + self.log[-3000:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        return code

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)

    def store(self) -> Store:
        return Store(f"sqlite:///{self.data_dir / 'callcenter.db'}")


def dial(uri: str, *args: str, timeout: float = 60) -> dict[str, Any]:
    """Run `callcenter dial URI ... --json` and return its outcome."""
    done = subprocess.run(callcenter_cmd("dial", uri, *args, "--json"), capture_output=True,
                          text=True, timeout=timeout)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise RuntimeError(f"dial printed no outcome (exit {done.returncode}):\n"
                       f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def start_dial(uri: str, *args: str) -> subprocess.Popen[str]:
    """Start `callcenter dial ... --json` without waiting; see :func:`dial_result`."""
    return subprocess.Popen(callcenter_cmd("dial", uri, *args, "--json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def dial_script(path: Path, steps: list[dict[str, Any]]) -> Path:
    """Write `steps` as a `callcenter dial --script` file at `path`."""
    path.write_text(yaml.safe_dump(steps))
    return path


def dial_result(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise RuntimeError(f"dial printed no outcome:\n{out[-2000:]}\n{err[-3000:]}")
