"""Conversations on a node: the shared speech models, the flows, one dialog per call.

Loading Whisper and Piper takes seconds, so it happens once, at start, on
worker threads. Then, in the background, the flow's fixed prompts are
rendered into the prompt cache at the rates calls will use, on Piper's
lowest-priority thread (nice 19): live calls take the CPU first, so the
first caller does not wait behind it, and later callers hear the prompts
without waiting for Piper (after a restart the disk cache makes this
instant).
Every answered call gets its own
:class:`callcenter.conversation.CallConversation` and
:class:`dialog.DialogRunner`, and every turn goes to the call journal (store
and events) as it happens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from asr.end_of_turn import turn_decisions
from asr.settings import AsrSettings
from asr.whisper import WhisperRecognizer
from callcenter.business_records import StoreRecords, seed_records
from callcenter.call_journal import CallJournal
from callcenter.conversation import CallConversation, HumanQueues
from callcenter.core.errors import CallGone, SettingsError
from callcenter.core.settings import Settings
from callcenter.core.store import AsyncStore
from config import CONFIG_DIR
from dialog import (
    CallData,
    CallerInput,
    DialogOutcome,
    DialogRunner,
    Flow,
    ListenSettings,
    Speaker,
    Turn,
    load_flows,
)
from dialog.prompts import static_prompts
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
        # Every flow of the flows folder, by name: campaigns run their own.
        self.flows: dict[str, Flow] = {}
        self.recognizer: WhisperRecognizer | None = None
        self.synthesizer: PiperSynthesizer | None = None
        self._warming: asyncio.Task[None] | None = None
        self._conversations = 0
        # Where a flow's transfer to a queue goes (the engine's ACD); None: REFER only.
        self.queues: HumanQueues | None = None

    async def start(self) -> None:
        """Load and check the flows, seed demo records, load the models."""
        engine = self.settings.engine
        folder = engine.flows_dir or CONFIG_DIR / "flows"
        flows = await asyncio.to_thread(load_flows, folder)
        if engine.flow not in flows:
            raise SettingsError(f"engine.flow: no flow named {engine.flow!r} in {folder} "
                                f"(found: {sorted(flows)})")
        self.flow = flows[engine.flow]
        self.flows = dict(flows)
        seed = folder / "seed" / f"{self.flow.name}.yaml"
        if seed.exists():
            today = datetime.now(UTC).astimezone(self.flow.tz).date()
            added = await seed_records(self.store, seed, today)
            if added:
                log.info("seeded %d demo record(s) from %s", added, seed)
        data_dir = self.settings.node.data_dir
        self.recognizer, self.synthesizer, _ = await asyncio.gather(
            asyncio.to_thread(WhisperRecognizer, self.asr),
            asyncio.to_thread(PiperSynthesizer, self.tts, data_dir=data_dir),
            asyncio.to_thread(turn_decisions, self.asr.end_of_turn))  # the node's one model
        log.info("flow %r ready (%d states); speech models loaded", self.flow.name,
                 len(self.flow.spec.states))
        self._warming = asyncio.get_running_loop().create_task(self._render_prompts(),
                                                               name="render-prompts")

    @property
    def listen_defaults(self) -> ListenSettings:
        """The node's listening settings: its endpointing (``asr.endpointing``),
        which a flow's and a state's ``listen`` override."""
        return ListenSettings(endpointing=self.asr.endpointing)

    def _call_rates(self) -> list[int]:
        """The audio rates calls will have: 8 kHz for G.711, 16 kHz for G.722."""
        codecs = self.settings.sip.codecs
        narrow = [8000] if any(c in ("PCMU", "PCMA") for c in codecs) else []
        return narrow + ([16000] if "G722" in codecs else [])

    async def _render_prompts(self) -> None:
        """Render the flow's fixed prompts into the cache, one sentence at a
        time at the lowest CPU priority (see the module's docstring)."""
        assert self.flow is not None and self.synthesizer is not None
        if self.synthesizer.cache is None:
            return
        prompts = static_prompts(self.flow.spec)
        started = time.monotonic()
        try:
            for rate in self._call_rates():
                for prompt in prompts:
                    await self.synthesizer.render_ahead(prompt, rate)
        except Exception:
            log.exception("rendering the flow's prompts ahead failed; they render on first use")
            return
        log.info("%d fixed prompt(s) of flow %r rendered ahead in %.1f s", len(prompts),
                 self.flow.name, time.monotonic() - started)

    async def run_call(self, call: SipCall, *, flow: str | None = None,
                       contact: Mapping[str, Any] | None = None, prelude: str | None = None,
                       on_heard: Callable[[CallerInput], None] | None = None,
                       ) -> DialogOutcome | None:
        """Hold the conversation of one answered call until it ends: the node's
        flow, or ``flow`` (a campaign's) with what it knows of the ``contact``.

        ``prelude``: said first, in full (no barge-in), before the flow starts
        (a campaign call's opt-out offer); ``on_heard`` sees every key and
        utterance of the call (`CallConversation`). Returns how the flow ended
        (its variables included), None when the call was gone first."""
        assert self.flow and self.recognizer and self.synthesizer, "start() first"
        chosen = self.flow if flow is None else self.flows[flow]
        self._conversations += 1
        try:
            return await self._converse(call, chosen, contact, prelude, on_heard)
        finally:
            self._conversations -= 1

    def _partials_wanted(self, call: SipCall) -> Callable[[], bool] | None:
        """When the call's partial transcripts are worth decoding (``asr.partials``)."""
        match self.asr.partials:
            case "always":
                return None
            case "off":
                return lambda: False
            case _:
                return lambda: self.journal.watched(call, "partial")

    async def _converse(self, call: SipCall, flow: Flow, contact: Mapping[str, Any] | None,
                        prelude: str | None = None,
                        on_heard: Callable[[CallerInput], None] | None = None,
                        ) -> DialogOutcome | None:
        assert self.recognizer and self.synthesizer
        conversation = CallConversation(
            call, self.recognizer, self.synthesizer, self.asr,
            on_partial=lambda text, n: self.journal.live(call, "partial",
                                                         {"text": text, "utterance": n}),
            queues=self.queues,
            on_scores=lambda scores, trend: self.journal.live(call, "agitation", {
                **scores.as_dict(), "trend": trend.as_dict()}),
            on_event=lambda kind, data: self.journal.on_call_event(call, kind, data),
            on_heard=on_heard)
        conversation.stream.wants_partials = self._partials_wanted(call)
        await conversation.start()
        runner = DialogRunner(flow, conversation, records=StoreRecords(self.store),
                              transferrer=conversation,
                              call=CallData.from_call(call.info, contact),
                              on_turn=lambda turn: self._journal_turn(conversation, turn),
                              listen_defaults=self.listen_defaults)
        state = ""
        outcome: DialogOutcome | None = None
        try:
            if prelude:
                state = "prelude"
                started = datetime.now(UTC)
                await conversation.say(prelude, barge_in=False)
                self._journal_turn(conversation, Turn(Speaker.ENGINE, state, prelude, started,
                                                      datetime.now(UTC)))
            outcome = await runner.run()
            state = outcome.state
            log.info("call %s: flow ended (%s in %s)", call.id[:8], outcome.ending.value,
                     outcome.state)
        except CallGone:
            pass
        finally:
            await conversation.close()
            self._journal_unreported_prompt(conversation, state)
        if not call.ended.done():
            await call.hangup()
        return outcome

    def _journal_turn(self, conversation: CallConversation, turn: Turn) -> None:
        if turn.speaker is Speaker.ENGINE:
            # A prompt cut by barge-in: what was played, and where it was cut.
            heard = conversation.take_prompt(turn.text)
            if heard is not None and heard.cut is not None:
                turn = replace(turn, text=heard.text, extra={**turn.extra, **heard.data()})
        conversation.turns.append(turn)
        self.journal.turn(conversation.call, speaker=str(turn.speaker), text=turn.text,
                          state=turn.state,
                          started_at=turn.started_at, ended_at=turn.ended_at,
                          intent=turn.intent, confidence=turn.confidence,
                          data={"kind": str(turn.kind) if turn.kind else None,
                                **dict(turn.extra)})

    def _journal_unreported_prompt(self, conversation: CallConversation, state: str) -> None:
        """A prompt the caller hung up during (or in its last moment): the
        dialog ended without a turn for it, but the transcript keeps what was
        played."""
        heard = conversation.take_prompt()
        if heard is not None:
            self._journal_turn(conversation, Turn(Speaker.ENGINE, state, heard.text,
                                                  heard.started_at, heard.ended_at,
                                                  extra=heard.data()))

    def stats(self) -> dict[str, int]:
        """Counters for the node's status line (SIGUSR1)."""
        out = {"conversations": self._conversations}
        if self.recognizer is not None:
            out.update(asr_busy=self.recognizer.busy,
                       asr_partials_skipped=self.recognizer.partials_skipped,
                       asr_finals_batched=self.recognizer.waiting_finals.batched)
        if self.synthesizer is not None:
            out["tts_sentences_rendered"] = self.synthesizer.stats.finished
            cache = self.synthesizer.cache
            if cache is not None:
                out.update(tts_cache_memory_hits=cache.stats.memory_hits,
                           tts_cache_disk_hits=cache.stats.disk_hits)
        return out

    def close(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
        if self.recognizer is not None:
            self.recognizer.close(wait=False)
        if self.synthesizer is not None:
            self.synthesizer.close()
