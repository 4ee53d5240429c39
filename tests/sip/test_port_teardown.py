"""Regression: call legs come and go while pjmedia's clock runs, and nothing crashes.

Deleting a pjsua2 ``AudioMediaPort`` while the conference clock could still
call into it aborted or segfaulted the process. The ring ports of
``sip.media_port`` are never freed, and ``sip.leg_audio.PortPool`` recycles
them, so the bridge holds no more ports than the peak of concurrent legs.

The cycles run in a child process, so that a crash fails this test instead
of killing pytest: for 4 s it attaches and detaches ``LegAudio`` legs through
the real ``PortPool`` to long-lived ToneGenerators, while a CPU-bound Python
thread competes for the GIL; then it shuts down as the node does
(``setNoDev``, ``PortPool.destroy``, ``libDestroy``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "port_teardown_race.py"
LEGS = 4


def test_legs_attach_and_detach_under_a_running_clock() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--mode", "pool", "--burn", "--seconds", "4",
         "--runs", "1", "--legs", str(LEGS)],
        capture_output=True, text=True, timeout=90, cwd=str(ROOT))
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no result line; stderr tail:\n{done.stderr[-3000:]}"
    result = json.loads(lines[-1])
    assert result["exit_codes"] == [0], f"child crashed; stderr tail:\n{done.stderr[-3000:]}"
    assert result["completed_cycles"] >= 20  # the cycles really ran
    assert 0 < result["pool_size_max"] <= LEGS  # ports recycled, not piling up
    assert done.returncode == 0
