"""Thread-safe audio hand-off between pjmedia's clock thread and asyncio.

:class:`FrameInbox` carries the caller's frames to the event loop, batched:
the clock thread appends (O(1)) and schedules at most one wake-up per batch.
:class:`FrameOutbox` holds the audio queued for the caller; the clock thread
pulls exactly one frame per tick and gets silence on underrun. Each queued
segment carries a future resolved when its last byte has been pulled, so
asyncio code can await the end of a prompt, and ``clear()`` stops playback
at once (barge-in).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import AsyncIterator, Callable


class FrameInbox:
    """Frames from the media thread, delivered to asyncio in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_frames: int = 500) -> None:
        self._loop = loop
        self._frames: collections.deque[bytes] = collections.deque(maxlen=max_frames)
        self._wake_pending = False
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.listening = False
        self.dropped = 0

    # -- media thread -------------------------------------------------------
    def put(self, frame: bytes) -> None:
        """Hand one frame over (media thread; returns at once)."""
        if not self.listening or self._closed:
            return
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(frame)
        if not self._wake_pending:
            self._wake_pending = True
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                self._loop.call_soon_threadsafe(self._wake)

    # -- event loop ----------------------------------------------------------
    def _wake(self) -> None:
        self._wake_pending = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        """End iteration once the frames already queued have been read."""
        self._closed = True
        self._wake()

    async def frames(self) -> AsyncIterator[bytes]:
        """Caller frames from now on, until the call ends."""
        self.listening = True
        try:
            while True:
                while self._frames:
                    yield self._frames.popleft()
                if self._closed:
                    return
                self._waiter = self._loop.create_future()
                await self._waiter
                self._waiter = None
        finally:
            self.listening = False
            self._frames.clear()


class FrameOutbox:
    """Audio waiting to be sent to the caller, pulled one frame per tick."""

    def __init__(self, loop: asyncio.AbstractEventLoop, frame_bytes: int) -> None:
        self._loop = loop
        self.frame_bytes = frame_bytes
        self._silence = bytes(frame_bytes)
        self._lock = threading.Lock()
        self._segments: collections.deque[tuple[memoryview, asyncio.Future[bool]]] = (
            collections.deque()
        )
        self._offset = 0
        # Called by clear(): audio already handed to the bridge stops too.
        self.on_clear: Callable[[], None] | None = None

    def queue(self, pcm: bytes) -> asyncio.Future[bool]:
        """Queue PCM16 audio (event loop); the future is True when it has all
        been sent, False if it was cleared first."""
        done: asyncio.Future[bool] = self._loop.create_future()
        if not pcm:
            done.set_result(True)
            return done
        with self._lock:
            self._segments.append((memoryview(pcm), done))
        return done

    def clear(self) -> None:
        """Drop everything queued (event loop); pending futures get False."""
        with self._lock:  # atomic with feed(): no pulled frame lands after this
            dropped = list(self._segments)
            self._segments.clear()
            self._offset = 0
            if self.on_clear is not None:
                self.on_clear()
        for _, fut in dropped:
            if not fut.done():
                fut.set_result(False)

    @property
    def busy(self) -> bool:
        """True while audio is queued."""
        return bool(self._segments)

    def pull(self) -> bytes:
        """One frame of audio, padded with silence (media thread)."""
        if not self._segments:
            return self._silence
        finished: list[asyncio.Future[bool]] = []
        with self._lock:
            frame = self._take_frame(finished)
        self._resolve_later(finished)
        return frame

    def feed(self, max_frames: int, write: Callable[[bytes], object]) -> None:
        """Hand up to `max_frames` queued frames to `write` in one call (media
        pump). Atomic with :meth:`clear`: frames taken here are written before
        a clear can flush what was written, never after it."""
        finished: list[asyncio.Future[bool]] = []
        with self._lock:
            frames: list[bytes] = []
            while max_frames > 0 and self._segments:
                frames.append(self._take_frame(finished))
                max_frames -= 1
            if frames:
                write(frames[0] if len(frames) == 1 else b"".join(frames))
        self._resolve_later(finished)

    def _take_frame(self, finished: list[asyncio.Future[bool]]) -> bytes:
        """The next frame, silence-padded at the end (caller holds _lock)."""
        need = self.frame_bytes
        parts: list[bytes] = []
        while need and self._segments:
            view, fut = self._segments[0]
            chunk = view[self._offset : self._offset + need]
            parts.append(bytes(chunk))
            need -= len(chunk)
            self._offset += len(chunk)
            if self._offset >= len(view):
                self._segments.popleft()
                self._offset = 0
                finished.append(fut)
        if need:
            parts.append(self._silence[:need])
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _resolve_later(self, finished: list[asyncio.Future[bool]]) -> None:
        for fut in finished:
            self._loop.call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(True)
