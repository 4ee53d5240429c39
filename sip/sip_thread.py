"""The one thread that owns the pjsua2 `Endpoint`.

pjsua2 is not safe to call from several threads, and its callbacks need a
thread that polls it. This thread does both: it polls ``libHandleEvents``
every few milliseconds and, between polls, runs the jobs other threads
submit. Jobs return `concurrent.futures.Future`s, which asyncio code awaits
with :meth:`SipThread.run`. Callbacks from pjsua2 (call state, DTMF,
incoming calls) run on this thread too; they hand their news to asyncio with
``loop.call_soon_threadsafe`` and return at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_MS = 5

class SipThread:
    """Runs jobs and pjsua2's event polling on one dedicated thread."""

    def __init__(self, name: str = "sip") -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]
                                      | None] = queue.SimpleQueue()
        self._poll: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._periodic: list[tuple[float, float, Callable[[], None]]] = []
        self._stopped = threading.Event()

    def start(self) -> None:
        self._thread.start()

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def in_thread(self) -> bool:
        """True when called from the SIP thread itself."""
        return threading.get_ident() == self._thread.ident

    def set_poller(self, poll: Callable[[], None] | None) -> None:
        """Install the pjsua2 poll (``lambda: ep.libHandleEvents(n)``); None stops polling."""
        self._poll = poll

    def every(self, interval_s: float, job: Callable[[], None]) -> None:
        """Run `job` on this thread about every `interval_s` seconds (SIP thread only)."""

        self._periodic.append((interval_s, time.monotonic() + interval_s, job))

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Queue `fn` to run on the SIP thread; its result or error lands in the future."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._stopped.is_set():
            future.set_exception(RuntimeError("SIP thread has stopped"))
            return future
        self._jobs.put((fn, future))
        return future

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the SIP thread and await its result from asyncio."""
        if self.in_thread():
            return fn()
        return await asyncio.wrap_future(self.submit(fn))

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the SIP thread and wait for it (blocking; not for the event loop)."""
        if self.in_thread():
            return fn()
        return self.submit(fn).result()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the jobs already queued; join the thread."""
        self._jobs.put(None)
        if threading.get_ident() != self._thread.ident and self._thread.is_alive():
            self._thread.join(timeout)

    def _main(self) -> None:

        while True:
            deadline = time.monotonic() + POLL_MS / 1000
            while True:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._stopped.set()
                    self._fail_pending()
                    return
                fn, future = item
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except BaseException as exc:
                        future.set_exception(_without_frames(exc))
            if self._periodic:
                now = time.monotonic()
                for i, (interval, due, job) in enumerate(self._periodic):
                    if now >= due:
                        self._periodic[i] = (interval, now + interval, job)
                        try:
                            job()
                        except Exception:
                            log.exception("periodic SIP job failed")
            if self._poll is not None:
                try:
                    self._poll()
                except Exception:
                    log.exception("pjsua2 event polling failed")
            else:
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    time.sleep(remaining)

    def _fail_pending(self) -> None:
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item[1].set_exception(RuntimeError("SIP thread has stopped"))


def _without_frames(exc: BaseException) -> BaseException:
    """`exc` (and the exceptions it chains) with tracebacks dropped.

    A traceback keeps the SIP thread's frames alive, and with them pjsua2
    objects (a Call in a job's locals). If such an object outlived
    ``libDestroy`` and were then freed on another thread, pjlib would abort
    the process. The error's type and message are what callers need.
    """
    log.debug("SIP job failed", exc_info=exc)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__
    return exc
