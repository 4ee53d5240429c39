"""Recording of every call, and recovery of recordings a crash left open.

Recordings live under ``<recordings_dir>/YYYY/MM/DD/<call_id>.wav``. The
path is stored with the CDR as soon as the file exists, so that after a
crash the next start can find it, repair its header, hash it and mark the
call incomplete (:func:`recover_crashed_calls`).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from callcenter.call_journal import CallJournal
from callcenter.core.call import utcnow
from callcenter.core.errors import MediaError
from callcenter.core.store import AsyncStore
from sip.call import SipCall
from sip.leg_audio import RecordingSink
from sip.recording import CallRecording, RecordingWriter, repair_recording

log = logging.getLogger(__name__)


class RecordingService:
    """Opens a recording when a call's media starts and seals it when it ends."""

    def __init__(self, directory: Path, writer: RecordingWriter, journal: CallJournal,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.directory = directory
        self.writer = writer
        self.journal = journal
        self._loop = loop
        self._open: dict[str, CallRecording] = {}
        journal.ended_listeners.append(self._call_ended)

    def open_for(self, call: SipCall, clock_rate: int) -> RecordingSink | None:
        """Called on the SIP thread when a call's audio starts: no I/O here,
        the recorder thread creates the file within a flush interval."""
        day = call.info.started_at
        path = self.directory / f"{day:%Y/%m/%d}" / f"{call.id}.wav"
        recording = self.writer.open_deferred(path, clock_rate)
        self._open[call.id] = recording
        self._loop.call_soon_threadsafe(
            self.journal.submit, lambda: self.journal.store.recording_started(call.id, str(path)))
        return recording

    def _call_ended(self, call: SipCall) -> None:
        recording = self._open.pop(call.id, None)
        if recording is None:
            return

        async def seal() -> None:
            finished = await asyncio.to_thread(self.writer.close, recording)
            await self.journal.store.recording_finished(
                call.id, str(finished.path), finished.sha256, finished.seconds, True)
            log.info("call %s recorded: %s (%.1f s, sha256 %s)", call.id, finished.path,
                     finished.seconds, finished.sha256[:12])

        self.journal.submit(seal)


async def recover_crashed_calls(store: AsyncStore, node: str) -> int:
    """Repair recordings of calls this node left unfinished; mark them incomplete."""
    calls = await store.unfinished_calls(node)
    for call in calls:
        if call.recording_path:
            try:
                fixed = await asyncio.to_thread(repair_recording, Path(call.recording_path))
                await store.recording_finished(call.id, str(fixed.path), fixed.sha256,
                                               fixed.seconds, False)
                log.warning("call %s: recording repaired after a crash (%.1f s kept)",
                            call.id, fixed.seconds)
            except (MediaError, OSError) as exc:
                log.error("call %s: recording %s could not be repaired: %s", call.id,
                          call.recording_path, exc)
        await store.mark_incomplete(call.id, utcnow())
    if calls:
        log.warning("%d call(s) left open by an earlier crash marked incomplete", len(calls))
    return len(calls)
