"""Talk to a flow in a terminal: the demo without a phone.

    python -m dialog                                # the clinic, as caller +15551230001
    python -m dialog --caller +15551239999          # a number with no appointment
    python -m dialog --flow clinic --db /tmp/demo.db

Type what you would say. A line of only digits, * and # is a key press, an
empty line is silence (no input), and /hangup (or Ctrl-D) hangs up. Demo
records are seeded into a SQLite file (fresh dates each start). A dev tool:
the console is itself an implementation of the ports, like the engine's.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from callcenter.core.errors import CallGone
from dialog.flow_loader import load_flows
from dialog.ports import CallerInput, ListenSettings, TransferTarget, Turn
from dialog.record_stores import InMemoryRecordStore, read_seed
from dialog.runner import CallData, DialogRunner

FLOWS_DIR = Path(__file__).resolve().parent.parent / "config" / "flows"
_KEYS = re.compile(r"^[0-9*#]+$")


class ConsoleCaller:
    """`CallerIO` and `Transferrer` over stdin/stdout."""

    def __init__(self) -> None:
        self.closed = False

    async def say(self, text: str, *, barge_in: bool) -> None:
        """Print the prompt."""
        print(f"\n  engine{'' if barge_in else ' (no barge-in)'}: {text}")

    async def listen(self, hints: Sequence[str], settings: ListenSettings) -> CallerInput:
        """Read one line: words, keys, silence or /hangup."""
        try:
            line = (await asyncio.to_thread(input, "  you> ")).strip()
        except EOFError:
            line = "/hangup"
        if line == "/hangup":
            self.closed = True
            raise CallGone("the caller hung up")
        if not line:
            return CallerInput.no_input()
        if _KEYS.match(line):
            return CallerInput.dtmf(line)
        return CallerInput.speech(line, confidence=0.9)

    async def hangup(self) -> None:
        """Say that the engine hung up."""
        print("  [engine hangs up]")

    async def transfer(self, target: TransferTarget) -> bool:
        """Pretend the transfer worked."""
        where = target.queue or ""
        if target.uri:
            where += f" ({target.uri})" if where else target.uri
        print(f"  [transferred to {where}]")
        return True


def _print_turn(turn: Turn) -> None:
    if turn.intent:
        print(f"    - understood: {turn.intent}"
              + (f" (confidence {turn.confidence:.2f})" if turn.confidence is not None else ""))


async def _main(args: argparse.Namespace) -> int:
    flows = load_flows(args.flows)
    flow = flows[args.flow]
    store = InMemoryRecordStore()
    seed = args.flows / "seed" / f"{flow.name}.yaml"
    if seed.exists():
        today = datetime.now(UTC).astimezone(flow.tz).date()
        store = InMemoryRecordStore(read_seed(seed, today))
    caller = ConsoleCaller()
    runner = DialogRunner(flow, caller, records=store, transferrer=caller,
                          call=CallData(caller_number=args.caller, call_id="console"),
                          on_turn=_print_turn)
    outcome = await runner.run()
    print(f"\n[{outcome.ending.value} in state {outcome.state}]")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m dialog``."""
    parser = argparse.ArgumentParser(prog="python -m dialog", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=Path, default=FLOWS_DIR, help="folder of flow files")
    parser.add_argument("--flow", default="clinic", help="flow name (default: clinic)")
    parser.add_argument("--caller", default="+15551230001", help="the calling number")
    return asyncio.run(_main(parser.parse_args(argv)))
