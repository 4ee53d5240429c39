"""An agent's phone for end-to-end tests: a SIP endpoint the engine rings.

    phone = Phone(port, "answer", "--wav", "agent.wav", "--record", "heard.wav").wait_ready()
    ...                                         # the engine rings phone.uri
    calls = phone.result()                      # [{"status": "answered", ...}]

Run as ``python -m tests.support.phone --port P --mode MODE``. Modes:
``answer`` (ring, answer, play ``--wav``, record what it hears to
``--record``, stay until the engine hangs up or ``--hold`` seconds),
``ring`` (ring until the engine gives up: a phone nobody answers) and
``reject`` (answer ``--code``, e.g. 486 Busy Here). An answering phone may
press ``--dtmf`` keys ``--dtmf-at`` seconds after its answer (again every
``--dtmf-every`` seconds if given), and reports
(``ended_at``, Unix time) when the engine's BYE came. It serves ``--calls``
calls, then prints one JSON line per call and exits; ``--lifetime`` bounds
it. Its own pjsua2 endpoint lives in its own process, like a real phone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path
from typing import Any

READY = "phone ready"


class _Quiet:
    def on_call_event(self, call: Any, kind: str, data: dict[str, Any]) -> None:
        pass


async def _serve(args: argparse.Namespace) -> list[dict[str, Any]]:
    from callcenter.core.settings import load_settings
    from sip.call import SipCall, load_wav_pcm
    from sip.node import SipNode

    settings = load_settings(overrides={
        "sip.host": "127.0.0.1", "sip.port": args.port, "sip.transports": ["udp"],
        "sip.rtp_port": 0, "sip.media_timeout_s": 30})
    results: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def on_incoming(call: SipCall) -> None:
        result: dict[str, Any] = {"from": call.info.from_uri, "mode": args.mode}
        started = time.monotonic()
        try:
            if args.mode == "reject":
                await call.reject(args.code)
                result["status"] = "rejected"
            elif args.mode == "ring":
                await call.ring()
                await asyncio.wait_for(asyncio.shield(call.ended), args.lifetime)
                result["status"] = "not_answered"
            else:
                await call.ring()
                await asyncio.sleep(args.answer_after)
                await call.answer()
                result["status"] = "answered"
                assert call.media is not None
                rate = call.media.clock_rate
                heard = bytearray()

                async def listen() -> None:
                    async for frame in call.frames():
                        heard.extend(frame)

                async def press() -> None:
                    await asyncio.sleep(args.dtmf_at)
                    while not call.ended.done():
                        await call.send_dtmf(args.dtmf)
                        result.setdefault("dtmf_sent_at", time.time())
                        if not args.dtmf_every:
                            return
                        await asyncio.sleep(args.dtmf_every)

                listener = asyncio.create_task(listen())
                keys = asyncio.create_task(press()) if args.dtmf else None
                if args.wav:
                    call.play(await asyncio.to_thread(load_wav_pcm, Path(args.wav), rate))
                try:
                    await asyncio.wait_for(asyncio.shield(call.ended), args.hold)
                    result["ended_by"] = "remote"
                    result["ended_at"] = time.time()
                except TimeoutError:
                    result["ended_by"] = "phone"
                    await call.hangup()
                for task in (listener, keys):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task
                if args.record:
                    with wave.open(args.record, "wb") as out:
                        out.setnchannels(1)
                        out.setsampwidth(2)
                        out.setframerate(rate)
                        out.writeframes(bytes(heard))
        finally:
            result["seconds"] = round(time.monotonic() - started, 2)
            results.append(result)
            if len(results) >= args.calls:
                done.set()

    node = SipNode(settings.sip, _Quiet(), on_incoming)
    await node.start()
    print(READY, flush=True, file=sys.stderr)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), args.lifetime)
        await asyncio.sleep(0.5)  # let the last BYE/CANCEL exchange finish
    finally:
        await node.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["answer", "ring", "reject"], default="answer")
    parser.add_argument("--code", type=int, default=486)
    parser.add_argument("--answer-after", type=float, default=0.3)
    parser.add_argument("--wav")
    parser.add_argument("--dtmf", help="keys to press once answered")
    parser.add_argument("--dtmf-at", type=float, default=1.0,
                        help="seconds after the answer to press them")
    parser.add_argument("--dtmf-every", type=float, default=0.0,
                        help="press them again this often until the call ends (0: once)")
    parser.add_argument("--record")
    parser.add_argument("--hold", type=float, default=30.0)
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--lifetime", type=float, default=60.0)
    args = parser.parse_args()
    for result in asyncio.run(_serve(args)):
        print(json.dumps(result), flush=True)


class Phone:
    """A phone process on 127.0.0.1:`port` (see the module); `start` waits until it listens."""

    def __init__(self, port: int, mode: str, *args: str) -> None:
        self.port = port
        self.uri = f"sip:agent@127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.phone", "--port", str(port), "--mode", mode,
             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self._lines)

    def wait_ready(self, timeout: float = 20) -> Phone:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(READY in line for line in list(self._lines)):
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"the phone exited {self.proc.returncode}:\n{self.log}")
            time.sleep(0.05)
        raise RuntimeError("the phone did not start in time:\n" + self.log)

    def result(self, timeout: float = 60) -> list[dict[str, Any]]:
        """The phone's calls, once it has exited."""
        out, _ = self.proc.communicate(timeout=timeout)
        self._reader.join(5)
        calls = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if not calls:
            raise RuntimeError(f"the phone reported no call:\n{self.log[-3000:]}")
        return calls

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


if __name__ == "__main__":
    main()
