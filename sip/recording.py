"""Call recording as a two-channel WAV, written incrementally and crash-safe.

Channel 1 (left) is the caller, channel 2 (right) everything the caller hears.
pjmedia's clock thread feeds 20 ms PCM16 mono frames through
:meth:`CallRecording.add_caller` / :meth:`CallRecording.add_heard`, which only
append to a bounded deque. One node-wide :class:`RecordingWriter` thread
drains every open recording each ``flush_interval_s``, interleaves the two
streams, appends them to the file, patches the header sizes and fsyncs, so the
file on disk is always a valid WAV and a killed process loses about one flush
interval of audio. If one stream lags the other by more than ``max_skew_s``
(e.g. nothing is played to the caller), it is padded with silence so both
channels stay aligned in time.

A file left open by a crash has stale header sizes and possibly a partial
stereo frame at its end; :func:`repair_recording` fixes both and hashes it.
Marking the call incomplete is the caller's job.

Nothing here touches pjsua2: it is file and format logic fed with bytes.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from callcenter.core.errors import MediaError

log = logging.getLogger(__name__)

HEADER_BYTES = 44
CHANNELS = 2
SAMPLE_WIDTH = 2
BLOCK_ALIGN = CHANNELS * SAMPLE_WIDTH
_HASH_CHUNK = 1 << 20
_MAX_QUEUED_FRAMES = 3000  # 60 s of 20 ms frames: bounds memory if the writer stalls


@dataclass(frozen=True)
class FinishedRecording:
    """A closed (or repaired) recording: where it is, its SHA-256 and length."""

    path: Path
    sha256: str
    seconds: float
    sample_rate: int


def _header(sample_rate: int, data_bytes: int) -> bytes:
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes, b"WAVE",
        b"fmt ", 16, 1, CHANNELS, sample_rate, sample_rate * BLOCK_ALIGN, BLOCK_ALIGN,
        8 * SAMPLE_WIDTH,
        b"data", data_bytes,
    )  # fmt: skip


def _create(path: Path, sample_rate: int) -> BinaryIO:
    """A new, empty stereo WAV at `path` (parents made); never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    file: BinaryIO = path.open("xb")
    file.write(_header(sample_rate, 0))
    file.flush()
    return file


def _patch_sizes(f: BinaryIO, data_bytes: int) -> None:
    """Rewrite the RIFF and data chunk sizes, fsync, leave the position at the end."""
    f.seek(4)
    f.write(struct.pack("<I", 36 + data_bytes))
    f.seek(40)
    f.write(struct.pack("<I", data_bytes))
    f.seek(0, os.SEEK_END)
    f.flush()
    os.fsync(f.fileno())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _pop_all(queue: collections.deque[bytes]) -> bytes:
    chunks: list[bytes] = []
    for _ in range(len(queue)):
        chunks.append(queue.popleft())
    return b"".join(chunks)


class CallRecording:
    """One call's recording; obtained from :meth:`RecordingWriter.open`.

    ``add_caller`` and ``add_heard`` may be called from any thread (pjmedia's
    clock thread) and return at once; frames fed after close are ignored.
    Everything else belongs to the writer.
    """

    def __init__(self, path: Path, sample_rate: int, file: BinaryIO | None,
                 max_skew_s: float) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.dropped_frames = 0
        self._caller: collections.deque[bytes] = collections.deque(maxlen=_MAX_QUEUED_FRAMES)
        self._heard: collections.deque[bytes] = collections.deque(maxlen=_MAX_QUEUED_FRAMES)
        self._closed = False
        # Below: guarded by _lock.
        self._lock = threading.Lock()
        self._file = file  # None until the writer creates it (open_deferred)
        self._caller_rest = b""
        self._heard_rest = b""
        self._data_bytes = 0
        self._max_skew_bytes = int(max_skew_s * sample_rate) * SAMPLE_WIDTH
        self._error: OSError | None = None
        self._finished: FinishedRecording | None = None
        self._synced = False  # the header reached the disk

    # -- media thread ---------------------------------------------------------
    def add_caller(self, frame: bytes) -> None:
        """Queue one PCM16 mono frame spoken by the caller (O(1), no I/O)."""
        if not self._closed:
            if len(self._caller) == _MAX_QUEUED_FRAMES:
                self.dropped_frames += 1
            self._caller.append(frame)

    def add_heard(self, frame: bytes) -> None:
        """Queue one PCM16 mono frame played to the caller (O(1), no I/O)."""
        if not self._closed:
            if len(self._heard) == _MAX_QUEUED_FRAMES:
                self.dropped_frames += 1
            self._heard.append(frame)

    @property
    def seconds(self) -> float:
        """Audio written to the file so far."""
        return self._data_bytes / (BLOCK_ALIGN * self.sample_rate)

    # -- writer (caller holds _lock) --------------------------------------------
    def _write_pending(self, final: bool) -> None:
        """Append what both streams have in common; pad a lagging one; fsync."""
        if self._file is None:
            self._file = _create(self.path, self.sample_rate)
        caller = self._caller_rest + _pop_all(self._caller)
        heard = self._heard_rest + _pop_all(self._heard)
        limit = 0 if final else self._max_skew_bytes
        if len(caller) - len(heard) > limit:
            heard += bytes(len(caller) - len(heard))
        elif len(heard) - len(caller) > limit:
            caller += bytes(len(heard) - len(caller))
        n = min(len(caller), len(heard)) & ~1  # whole samples only
        self._caller_rest, self._heard_rest = caller[n:], heard[n:]
        if n == 0 and not final:
            if not self._synced:
                os.fsync(self._file.fileno())
                self._synced = True
            return
        stereo = np.empty(n, dtype="<i2")  # n bytes per channel -> n // 2 samples each
        stereo[0::2] = np.frombuffer(caller, dtype="<i2", count=n // 2)
        stereo[1::2] = np.frombuffer(heard, dtype="<i2", count=n // 2)
        self._file.write(stereo.tobytes())
        self._data_bytes += 2 * n
        _patch_sizes(self._file, self._data_bytes)
        self._synced = True


class RecordingWriter:
    """The node's recorder: one thread flushing every open recording.

    ``open`` and ``close`` may be called from any thread; ``close`` blocks on
    disk I/O and hashing, so asyncio code runs it via ``asyncio.to_thread``.
    """

    def __init__(self, flush_interval_s: float = 1.0, *, max_skew_s: float = 1.0) -> None:
        self._flush_interval_s = flush_interval_s
        self._max_skew_s = max_skew_s
        self._lock = threading.Lock()  # guards _open
        self._open: set[CallRecording] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the flushing thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="recorder", daemon=False)
            self._thread.start()

    def open(self, path: Path, sample_rate: int) -> CallRecording:
        """Create ``path`` (and its parents) as an empty stereo WAV; never overwrites.

        Raises MediaError if the file exists or cannot be created. It runs
        on the SIP thread at media start, so it does no fsync: the first
        flush (within ``flush_interval_s``) makes the file durable.
        """
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        try:
            file = _create(path, sample_rate)
        except OSError as e:
            raise MediaError(f"cannot create recording {path}: {e}") from e
        return self._track(CallRecording(path, sample_rate, file, self._max_skew_s))

    def open_deferred(self, path: Path, sample_rate: int) -> CallRecording:
        """Like :meth:`open` but with no I/O at all: the recorder thread creates
        the file at its next flush. For the SIP thread, which must never wait
        on a disk; a file that cannot be created is logged then and reported
        by :meth:`close`, and the other calls keep recording."""
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        return self._track(CallRecording(path, sample_rate, None, self._max_skew_s))

    def _track(self, rec: CallRecording) -> CallRecording:
        with self._lock:
            self._open.add(rec)
        return rec

    def close(self, rec: CallRecording) -> FinishedRecording:
        """Write what is left, pad the shorter channel, fsync and hash (blocking).

        Idempotent: closing again returns the same result. Raises MediaError if
        writing the file failed at any point.
        """
        rec._closed = True
        with self._lock:
            self._open.discard(rec)
        with rec._lock:
            if rec._finished is not None:
                return rec._finished
            try:
                if rec._error is None:
                    rec._write_pending(final=True)
            except OSError as e:
                rec._error = e
            finally:
                if rec._file is not None:
                    with contextlib.suppress(OSError):
                        rec._file.close()
            if rec._error is not None:
                raise MediaError(f"recording {rec.path} failed: {rec._error}") from rec._error
            if rec.dropped_frames:
                log.warning("recording %s: %d frames dropped", rec.path, rec.dropped_frames)
            try:
                sha = _sha256(rec.path)
            except OSError as e:
                raise MediaError(f"cannot hash recording {rec.path}: {e}") from e
            rec._finished = FinishedRecording(rec.path, sha, rec.seconds, rec.sample_rate)
            return rec._finished

    def stop(self) -> list[FinishedRecording]:
        """Stop the thread, then close every recording still open; returns those."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            left = list(self._open)
        finished: list[FinishedRecording] = []
        for rec in left:
            try:
                finished.append(self.close(rec))
            except MediaError:
                log.exception("closing %s at stop", rec.path)
        return finished

    def _run(self) -> None:
        while not self._stopping.wait(self._flush_interval_s):
            self.flush_all()

    def flush_all(self) -> None:
        """Write out every open recording now (the thread does this periodically)."""
        with self._lock:
            recs = list(self._open)
        for rec in recs:
            with rec._lock:
                if rec._finished is not None or rec._error is not None or (
                        rec._file is not None and rec._file.closed):
                    continue
                try:
                    rec._write_pending(final=False)
                except OSError as e:
                    rec._error = e  # reported by close(); the other calls keep recording
                    log.error("recording %s failed: %s", rec.path, e)


def repair_recording(path: Path) -> FinishedRecording:
    """Make a recording left open by a killed process a valid WAV, and hash it.

    Drops a partial trailing stereo frame, rewrites the RIFF and data sizes
    from the file size, fsyncs. Raises MediaError (naming the file) if it is
    not one of our two-channel 16-bit PCM WAVs.
    """
    try:
        with path.open("r+b") as f:
            head = f.read(HEADER_BYTES)
            if len(head) < HEADER_BYTES:
                raise MediaError(f"{path} is not a WAV recording: {len(head)}-byte file")
            riff, _, wave_id, fmt_id, fmt_size, fmt_tag, channels, rate, _, align, bits = (
                struct.unpack("<4sI4s4sIHHIIHH", head[:36])
            )
            if riff != b"RIFF" or wave_id != b"WAVE" or fmt_id != b"fmt " or head[36:40] != b"data":
                raise MediaError(f"{path} is not a WAV recording in our layout")
            if (fmt_size, fmt_tag, channels, bits, align) != (16, 1, CHANNELS, 16, BLOCK_ALIGN):
                raise MediaError(
                    f"{path} is not a 2-channel 16-bit PCM recording "
                    f"(format {fmt_tag}, {channels} channels, {bits} bits)"
                )
            if rate <= 0:
                raise MediaError(f"{path} has sample rate {rate}")
            size = f.seek(0, os.SEEK_END)
            data_bytes = (size - HEADER_BYTES) // BLOCK_ALIGN * BLOCK_ALIGN
            f.truncate(HEADER_BYTES + data_bytes)
            _patch_sizes(f, data_bytes)
        sha = _sha256(path)
    except OSError as e:
        raise MediaError(f"cannot repair recording {path}: {e}") from e
    return FinishedRecording(path, sha, data_bytes / (BLOCK_ALIGN * rate), rate)
