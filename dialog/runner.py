"""Run one flow for one call, through the ports of `dialog.ports`.

    runner = DialogRunner(flow, caller_io, records=store, transferrer=xfer,
                          call=CallData(caller_number="+15551230001"), on_turn=journal)
    outcome = await runner.run()   # DialogOutcome(ending=Ending.COMPLETED, ...)

A state runs its `do` actions, speaks its prompt, then listens when it has a
menu or an ask. In every listening state "agent", "representative",
"operator" (or key 0) reach a person and "say that again" (or *) repeats the
prompt. Silence and words not understood are reprompted; after the state's
`max_failures` (default: the flow's `escalation.after_failures`) in a row the
caller is handed to the escalation queue, as they are when the store fails.
With ``escalation: upset:`` every caller turn also goes through the call's
:class:`~dialog.escalation_policy.EscalationWatch` (tone and pace the
listening side measured, words from the transcript); in the states where it
applies, an upset caller is handed over at once, ahead of any failure
count. Every transfer names its reason and context (`Handover`).
A transfer ends the run, unless an agent gives the caller back
(`TransferResult.RETURNED`): the run goes on at the transfer's (or the
escalation's) `on_return` state, or, without one, ends there.
A caller hanging up (`CallGone` from any port) ends the run quietly.
The runner does no I/O of its own; every turn is reported to `on_turn`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, NoReturn

from callcenter.core.errors import CallGone, StoreError
from dialog.escalation_policy import EscalationConfig, EscalationDecision, EscalationWatch
from dialog.flow import Action, Flow, StateSpec, UpsetSpec
from dialog.intents import AGENT, FuzzyIntentMatcher, IntentMatcher
from dialog.listening import listen_settings, recognition_hints
from dialog.ports import (
    CallData,
    CallerInput,
    CallerIO,
    DialogOutcome,
    Ending,
    Handover,
    InputKind,
    ListenSettings,
    RecordStore,
    Speaker,
    TransferReason,
    Transferrer,
    TransferResult,
    TransferTarget,
    Turn,
)
from dialog.runner_turns import Heard, interpret, state_intents
from dialog.templates import format_value, render, render_data

__all__ = ["CallData", "DialogOutcome", "DialogRunner", "Ending"]
log = logging.getLogger(__name__)


class _Ended(Exception):
    def __init__(self, outcome: DialogOutcome) -> None:
        self.outcome = outcome


class DialogRunner:
    """Executes a `Flow` for one call. Create one per call; `run` once."""

    def __init__(self, flow: Flow, io: CallerIO, *, records: RecordStore,
                 transferrer: Transferrer, call: CallData | None = None,
                 matcher: IntentMatcher | None = None,
                 on_turn: Callable[[Turn], None] | None = None,
                 clock: Callable[[], datetime] | None = None, max_steps: int = 200,
                 listen_defaults: ListenSettings | None = None) -> None:
        """`listen_defaults`: the node's listening settings, which the flow's
        and each state's `listen` override."""
        self.flow = flow
        self._listen_defaults = listen_defaults
        self._spec = flow.spec
        self._io = io
        self._records = records
        self._transferrer = transferrer
        self._matcher: IntentMatcher = matcher or FuzzyIntentMatcher()
        self._on_turn = on_turn
        self._clock = clock or (lambda: datetime.now(UTC))
        self._max_steps = max_steps
        self._state = self._spec.start
        upset = self._spec.escalation.upset
        self.watch = EscalationWatch(upset or EscalationConfig(enabled=False))
        self._wanted: str | None = None  # the caller's last menu choice
        self._asked_by: TransferReason = "flow"  # how the caller's last input came
        call = call or CallData()
        self.variables: dict[str, Any] = dict(self._spec.variables)
        self.variables.update(caller_number=call.caller_number, called_number=call.called_number,
                              call_id=call.call_id, contact=dict(call.contact))
        self._refresh_clock()

    def _refresh_clock(self) -> datetime:
        now = self._clock().astimezone(self.flow.tz)
        self.variables.update(now=now, today=now.date())
        return now

    def _today(self) -> date:
        return self._refresh_clock().date()

    def _end(self, ending: Ending, target: TransferTarget | None = None,
             escalated: bool = False) -> _Ended:
        return _Ended(DialogOutcome(ending, self._state, dict(self.variables), target, escalated))

    async def run(self) -> DialogOutcome:
        """Run the flow from its start state until the call ends or is handed over."""
        state = self._spec.start
        try:
            for _ in range(self._max_steps):
                state = await self._visit(state)
            log.error("%s: %d states without an end; handing the caller over",
                      self.flow.path, self._max_steps)
            await self._hand_over(self._spec.escalation.say, escalated=True, reason="error")
            return self._end(Ending.TRANSFERRED, escalated=True).outcome
        except _Ended as ended:
            return ended.outcome
        except CallGone:
            return self._end(Ending.CALLER_HUNG_UP).outcome

    async def _visit(self, name: str) -> str:
        self._state = name
        state = self._spec.states[name]
        detour = await self._run_actions(state.do)
        if detour is not None:
            return detour
        if not state.listens:
            if state.say:
                settings = self._listening(state)
                await self._say(state.say, barge_in=settings.barge_in)
            return self._transition(state)
        return await self._converse(name, state)

    # --- speaking and listening -------------------------------------------------

    def _listening(self, state: StateSpec) -> ListenSettings:
        return listen_settings(self._spec, state, self._listen_defaults)

    async def _say(self, template: str, *, barge_in: bool) -> None:
        text = render(template, self.variables, today=self._today()).strip()
        if not text:
            return
        started = self._clock()
        await self._io.say(text, barge_in=barge_in)
        self._emit(Turn(Speaker.ENGINE, self._state, text, started, self._clock()))

    def _emit(self, turn: Turn) -> None:
        if self._on_turn is not None:
            try:
                self._on_turn(turn)
            except Exception:  # a transcript sink must not break the call
                log.exception("on_turn failed for a turn in %s", self._state)

    async def _converse(self, name: str, state: StateSpec) -> str:
        settings = self._listening(state)
        hints = recognition_hints(state)
        intents, own = state_intents(state)
        limit = state.max_failures or self._spec.escalation.after_failures
        failures = 0
        prompt = state.say or ""
        while True:
            await self._say(prompt, barge_in=settings.barge_in)
            started = self._clock()
            heard: CallerInput = await self._io.listen(hints, settings)
            self._asked_by = "dtmf" if heard.kind is InputKind.DTMF else "asked"
            upset = self._spec.escalation.upset_in(name, listens=True)
            decision = self._hear_voice(heard)
            if upset is not None and decision.escalate:
                self._emit_caller(name, heard, started, "upset", 0.0)
                return await self._escalate_upset(upset, decision)
            if heard.kind is InputKind.SPEECH and not heard.text.strip() and heard.voice:
                # Voice without words (noise, a language Whisper missed): kept, no failure.
                self._emit_caller(name, heard, started, "voice", 0.0)
                prompt = ""
                continue
            result: Heard = await interpret(heard, state, intents, self._matcher, settings,
                                            self._today())
            self._emit_caller(name, heard, started, result.label, result.score)
            if result.intent == "repeat" and "repeat" not in own:
                prompt = state.say or ""
                continue
            if result.intent == AGENT.name and AGENT.name not in own:
                return await self._hand_over(self._spec.escalation.agent_say, escalated=False,
                                             reason=self._asked_by)
            if result.intent is not None:
                if result.intent in own:
                    self._wanted = result.intent
                return await self._choose(state, result.intent)
            if result.filled is not None and state.ask is not None:
                return self._fill(state, result)
            failures += 1
            if failures >= limit:
                reason: TransferReason = "no_input" if result.label == "no_input" \
                    else "no_match"
                return await self._hand_over(self._spec.escalation.say, escalated=True,
                                             reason=reason)
            prompt = self._reprompt(state, result)

    def _hear_voice(self, heard: CallerInput) -> EscalationDecision:
        """Feed a spoken turn (its voice scores and words) to the call's watch."""
        if heard.kind is not InputKind.SPEECH:
            return EscalationDecision(escalate=False)
        return self.watch.hear(heard.voice, heard.text)

    def _emit_caller(self, name: str, heard: CallerInput, started: datetime, label: str,
                     score: float) -> None:
        extra: dict[str, Any] = {"score": score} if score else {}
        if heard.voice:
            extra["voice"] = self.watch.history[-1].as_dict()
        self._emit(Turn(Speaker.CALLER, name, heard.text or heard.digits, started,
                        self._clock(), kind=heard.kind, intent=label,
                        confidence=heard.confidence if heard.kind is InputKind.SPEECH
                        else None, extra=extra))

    async def _escalate_upset(self, upset: UpsetSpec, decision: EscalationDecision) -> str:
        """Hand an upset caller over at once, to the upset queue, ahead of others."""
        assert decision.reason is not None
        scores: dict[str, Any] = {
            decision.reason: [round(x, 3) for x in decision.scores],
            "utterances": list(decision.utterances),
            "detail": decision.detail, "trend": self.watch.trend().as_dict(),
            "last": self.watch.history[-1].as_dict()}
        if decision.word_hits:
            scores["word_hits"] = list(decision.word_hits)
        log.info("%s: caller upset in %s (%s)", self.flow.path, self._state, decision.detail)
        return await self._hand_over(upset.say, escalated=True, reason=decision.reason,
                                     scores=scores, queue=upset.queue,
                                     boost=upset.priority_boost)

    def _reprompt(self, state: StateSpec, result: Heard) -> str:
        key = "no_input" if result.label == "no_input" else "no_match"
        own = getattr(state.reprompt, key)
        again = own or f"{getattr(self._spec.reprompt, key) or ''} {state.say or ''}"
        if result.rejected and state.ask is not None and state.ask.invalid:
            return f"{state.ask.invalid} {own or state.say or ''}"
        return again

    async def _choose(self, state: StateSpec, intent: str) -> str:
        spec = (state.menu or {})[intent]
        detour = await self._run_actions(spec.do)
        if detour is not None:
            return detour
        assert spec.goto is not None  # checked at load
        return spec.goto

    def _fill(self, state: StateSpec, result: Heard) -> str:
        ask = state.ask
        assert ask is not None and result.filled is not None
        self.variables[ask.slot] = result.filled.value
        if ask.with_time and result.filled.time is not None:
            self.variables[ask.with_time] = result.filled.time
        if ask.yes is not None and ask.no is not None:
            return ask.yes if result.filled.value is True else ask.no
        return self._transition(state)

    # --- moving on --------------------------------------------------------------

    def _lookup(self, dotted: str) -> Any:
        name, _, attribute = dotted.partition(".")
        value = self.variables.get(name)
        if attribute:
            return value.get(attribute) if isinstance(value, Mapping) else None
        return value

    def _transition(self, state: StateSpec) -> str:
        if state.goto is not None:
            return state.goto
        for branch in state.branch or []:
            if branch.when is None:
                return branch.goto
            value = self._lookup(branch.when)
            if "equals" in branch.model_fields_set:
                wanted = branch.equals
                if value == wanted or (isinstance(wanted, str) and value is not None
                                       and format_value(value, "", spoken=False) == wanted):
                    return branch.goto
            elif value:
                return branch.goto
        raise AssertionError(f"{self.flow.where('states', self._state)}: no way on")

    # --- actions ----------------------------------------------------------------

    async def _run_actions(self, actions: list[Action]) -> str | None:
        """Run `actions`; a state name to go to instead when a transfer failed."""
        for action in actions:
            try:
                detour = await self._act(action)
            except StoreError as exc:
                log.warning("%s: store failed in %s: %s", self.flow.path, self._state, exc)
                return await self._hand_over(self._spec.escalation.say, escalated=True,
                                             reason="error")
            if detour is not None:
                return detour
        return None

    async def _act(self, action: Action) -> str | None:
        if action.set is not None:
            for key, value in action.set.items():
                self.variables[key] = (render_data(value, self.variables)
                                       if isinstance(value, str) else value)
        elif action.lookup is not None:
            op = action.lookup
            key = render(op.key, self.variables, spoken=False)
            self.variables[op.into or op.record] = await self._records.lookup(op.record, key)
        elif action.update is not None:
            up = action.update
            key = render(up.key, self.variables, spoken=False)
            values = {k: render_data(v, self.variables) if isinstance(v, str) else v
                      for k, v in up.fields.items()}
            await self._records.update(up.record, key, values)
            held = self.variables.get(up.into or up.record)
            if isinstance(held, dict):
                held.update(values)
        elif action.say is not None:
            state = self._spec.states[self._state]
            await self._say(action.say, barge_in=self._listening(state).barge_in)
        elif action.transfer is not None:
            xfer = action.transfer
            target = self._target(xfer.queue, xfer.uri, why=self._why(self._asked_by))
            result = await self._transfer(target, xfer.say)
            if result is TransferResult.RETURNED:
                return self._returned(target, xfer.on_return)
            if result is TransferResult.DONE:
                raise self._end(Ending.TRANSFERRED, target)
            if xfer.on_fail is not None:
                return xfer.on_fail
            await self._hang_up(self._spec.escalation.unavailable, Ending.TRANSFER_FAILED)
        elif action.hangup is not None:
            await self._hang_up(action.hangup.say, Ending.COMPLETED)
        return None

    def _why(self, reason: TransferReason,
             scores: Mapping[str, Any] | None = None) -> Handover:
        variables = {k: v for k, v in self.variables.items() if k not in ("now", "today")}
        return Handover(reason=reason, state=self._state, intent=self._wanted,
                        scores=dict(scores or {}), variables=variables)

    def _target(self, queue: str | None, uri: str | None, *, escalated: bool = False,
                why: Handover | None = None, boost: int | None = None) -> TransferTarget:
        if queue is not None:
            return TransferTarget(queue=queue, uri=self._spec.queues[queue].uri,
                                  escalated=escalated, priority_boost=boost, why=why)
        return TransferTarget(uri=uri, escalated=escalated, priority_boost=boost, why=why)

    async def _transfer(self, target: TransferTarget, say: str | None) -> TransferResult:
        if say:
            await self._say(say, barge_in=False)
        result = await self._transferrer.transfer(target)
        if isinstance(result, TransferResult):
            return result
        return TransferResult.DONE if result else TransferResult.FAILED

    def _returned(self, target: TransferTarget, on_return: str | None) -> str:
        """An agent gave the caller back: the state to go on at (the run ends without one)."""
        if on_return is None:
            log.info("%s: the caller is back from %s but the flow names no on_return "
                     "state; ending", self.flow.path, target)
            raise self._end(Ending.TRANSFERRED, target, target.escalated)
        return on_return

    async def _hand_over(self, say: str, *, escalated: bool, reason: TransferReason,
                         scores: Mapping[str, Any] | None = None, queue: str | None = None,
                         boost: int | None = None) -> str:
        """Transfer to the escalation queue (or `queue`). The run ends there,
        unless an agent gives the caller back: then the state to go on at."""
        target = self._target(queue or self._spec.escalation.queue, None, escalated=escalated,
                              why=self._why(reason, scores), boost=boost)
        result = await self._transfer(target, say)
        if result is TransferResult.RETURNED:
            return self._returned(target, self._spec.escalation.on_return)
        if result is TransferResult.DONE:
            raise self._end(Ending.TRANSFERRED, target, escalated)
        await self._hang_up(self._spec.escalation.unavailable, Ending.TRANSFER_FAILED)

    async def _hang_up(self, goodbye: str, ending: Ending) -> NoReturn:
        await self._say(goodbye, barge_in=False)
        await self._io.hangup()
        raise self._end(ending)
