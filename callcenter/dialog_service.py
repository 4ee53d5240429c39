"""Conversations on a node: the shared speech models, the flows, one dialog per call.

Loading Whisper and Piper takes seconds, so it happens once, at start, on
worker threads; every answered call then gets its own
:class:`callcenter.conversation.CallConversation` and
:class:`dialog.DialogRunner`, and every turn goes to the call journal (store
and events) as it happens.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from asr.settings import AsrSettings
from asr.whisper import WhisperRecognizer
from callcenter.business_records import StoreRecords, seed_records
from callcenter.call_journal import CallJournal
from callcenter.conversation import CallConversation
from callcenter.core.errors import CallGone, SettingsError
from callcenter.core.settings import Settings
from callcenter.core.store import AsyncStore
from config import CONFIG_DIR
from dialog import CallData, DialogRunner, Flow, Turn, load_flows
from sip.call import SipCall
from tts.piper_voice import PiperSynthesizer
from tts.settings import TtsSettings

log = logging.getLogger(__name__)


class DialogService:
    """Runs the configured flow for each call a node answers."""

    def __init__(self, settings: Settings, store: AsyncStore, journal: CallJournal) -> None:
        self.settings = settings
        self.store = store
        self.journal = journal
        self.asr = settings.section("asr", AsrSettings)
        self.tts = settings.section("tts", TtsSettings)
        self.flow: Flow | None = None
        self.recognizer: WhisperRecognizer | None = None
        self.synthesizer: PiperSynthesizer | None = None

    async def start(self) -> None:
        """Load and check the flows, seed demo records, load the models."""
        engine = self.settings.engine
        folder = engine.flows_dir or CONFIG_DIR / "flows"
        flows = await asyncio.to_thread(load_flows, folder)
        if engine.flow not in flows:
            raise SettingsError(f"engine.flow: no flow named {engine.flow!r} in {folder} "
                                f"(found: {sorted(flows)})")
        self.flow = flows[engine.flow]
        seed = folder / "seed" / f"{self.flow.name}.yaml"
        if seed.exists():
            today = datetime.now(UTC).astimezone(self.flow.tz).date()
            added = await seed_records(self.store, seed, today)
            if added:
                log.info("seeded %d demo record(s) from %s", added, seed)
        data_dir = self.settings.node.data_dir
        self.recognizer, self.synthesizer = await asyncio.gather(
            asyncio.to_thread(WhisperRecognizer, self.asr),
            asyncio.to_thread(PiperSynthesizer, self.tts, data_dir=data_dir))
        log.info("flow %r ready (%d states); speech models loaded", self.flow.name,
                 len(self.flow.spec.states))

    async def run_call(self, call: SipCall) -> None:
        """Hold the conversation of one answered call until it ends."""
        assert self.flow and self.recognizer and self.synthesizer, "start() first"
        conversation = CallConversation(call, self.recognizer, self.synthesizer, self.asr)
        await conversation.start()
        runner = DialogRunner(self.flow, conversation, records=StoreRecords(self.store),
                              transferrer=conversation, call=CallData.from_call(call.info),
                              on_turn=lambda turn: self._journal_turn(call, turn))
        try:
            outcome = await runner.run()
            log.info("call %s: flow ended (%s in %s)", call.id[:8], outcome.ending.value,
                     outcome.state)
        except CallGone:
            pass
        finally:
            await conversation.close()
        if not call.ended.done():
            await call.hangup()

    def _journal_turn(self, call: SipCall, turn: Turn) -> None:
        self.journal.turn(call, speaker=str(turn.speaker), text=turn.text, state=turn.state,
                          started_at=turn.started_at, ended_at=turn.ended_at,
                          intent=turn.intent, confidence=turn.confidence,
                          data={"kind": str(turn.kind) if turn.kind else None,
                                **dict(turn.extra)})

    def close(self) -> None:
        if self.recognizer is not None:
            self.recognizer.close(wait=False)
        if self.synthesizer is not None:
            self.synthesizer.close()
