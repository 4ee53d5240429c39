"""Where a caller goes at a queue's limit, or when they ask to be called back.

    result = await at_max_wait(waiting, now)         # waited the queue's max_wait_s
    result = await turned_away(waiting, now, prio)   # the queue is full: never waited
    result = await callback_requested(waiting, now)  # pressed the queue's callback_key

The queue's ``at_limit`` says what happens at either limit:

- ``goodbye``: the queue's ``say`` if any; the flow's fallback follows
  (``FAILED``: its on_fail state or the escalation's "unavailable" goodbye;
  a full queue hands the caller back untouched, ``NOT_TAKEN``);
- ``transfer``: a REFER to the URI;
- ``callback``: the caller hears the offer (``say``, else
  :data:`CALLBACK_OFFER`) and has ``timeout_s`` to press ``key``: a
  ``callbacks`` row (number, queue, reason ``max_wait`` / ``max_length``,
  time), the confirmation, goodbye (``DONE``); no key: as ``goodbye``;
- ``voicemail``: the prompt (``say``, else :data:`VOICEMAIL_PROMPT`), a
  beep, then the caller's message to ``<dir>/<time>-<call id>.wav``
  (:mod:`callcenter.voicemail`; ``dir`` defaults to ``<data_dir>/voicemail``),
  stored as a ``voicemails`` row (``store.voicemails``: call, queue, number,
  path, duration, what ended it) and a ``voicemail`` call event; goodbye.

The queue's ``callback_key`` while waiting stores a callback with reason
``caller_key`` the same way. Callers without a number are never offered a
callback. Every way out closes the caller's ``queue_entries`` row with its
outcome (``callback``, ``voicemail``, ``transferred``, ``timeout``, ``full``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from acd.queue_model import CallbackReason, CallbackRequest, QueueExit
from acd.queues_config import CallbackAtLimit, TransferAtLimit, VoicemailAtLimit
from callcenter.acd_sounds import record_beep
from callcenter.blind_transfer import blind_transfer
from callcenter.core.errors import CallGone, MediaError, StoreError
from callcenter.queue_results import QueueResult
from callcenter.voicemail import record_message, voicemail_name

if TYPE_CHECKING:
    from callcenter.queued_call import QueuedCall

log = logging.getLogger(__name__)

CALLBACK_OFFER = "All our agents are still busy. To be called back, press {key}."
CALLBACK_CONFIRMED = "Thank you. We will call you back as soon as we can. Goodbye."
VOICEMAIL_PROMPT = ("Nobody can take your call right now. Please leave a message after the "
                    "tone, and press the hash key when you are done.")
VOICEMAIL_SAVED = "Thank you, your message has been recorded. Goodbye."


async def at_max_wait(q: QueuedCall, now: datetime) -> QueueResult:
    """The caller (still in the queue, waiting) reached max wait."""
    result = QueueResult
    queue = q.acd.queues[q.queue]
    action = q.spec.at_limit
    await q.hold_off()
    if isinstance(action, TransferAtLimit):
        q.close(queue.timed_out(q.id, now, "transfer"))
        return await send_on(q, action.uri)
    if isinstance(action, VoicemailAtLimit):
        q.close(queue.timed_out(q.id, now, "voicemail"))
        return await _voicemail(q, action)
    if isinstance(action, CallbackAtLimit) and q.number:
        if await _offer_callback(q, action):
            exit_, request = queue.callback(q.id, q.acd.clock(), CallbackReason.MAX_WAIT)
            return await _called_back(q, exit_, request)
        q.close(queue.timed_out(q.id, q.acd.clock(), "goodbye"))
        return result.ABANDONED if q.call.ended.done() else result.FAILED
    q.close(queue.timed_out(q.id, now, "goodbye"))
    if action.say:
        await q.acd.say(q.call, action.say, state=f"queue:{q.queue}")
    return result.FAILED


async def callback_requested(q: QueuedCall, now: datetime) -> QueueResult:
    """The waiting caller pressed the queue's callback key."""
    exit_, request = q.acd.queues[q.queue].callback(q.id, now, CallbackReason.CALLER_KEY)
    await q.hold_off()
    return await _called_back(q, exit_, request)


async def turned_away(q: QueuedCall, now: datetime, priority: int) -> QueueResult:
    """The queue is full: the caller never waits; its at_limit applies at once."""
    result = QueueResult
    queue = q.acd.queues[q.queue]
    action = q.spec.at_limit
    number = q.number or None
    log.info("call %s: queue %s is full (%s)", q.id[:8], q.queue, action.action)
    if isinstance(action, TransferAtLimit):
        _record_refused(q, queue.refuse(q.id, now, "transfer", priority=priority,
                                        number=number))
        return await send_on(q, action.uri)
    if isinstance(action, VoicemailAtLimit):
        _record_refused(q, queue.refuse(q.id, now, "voicemail", priority=priority,
                                        number=number))
        return await _voicemail(q, action)
    if isinstance(action, CallbackAtLimit) and q.number:
        if await _offer_callback(q, action):
            exit_ = queue.refuse(q.id, now, "callback", priority=priority, number=number)
            _record_refused(q, exit_)
            request = CallbackRequest(q.number, q.queue, CallbackReason.MAX_LENGTH,
                                      q.acd.clock(), q.id)
            return await _called_back(q, exit_, request, closed=True)
        _record_refused(q, queue.refuse(q.id, now, "goodbye", priority=priority,
                                        number=number))
        return result.ABANDONED if q.call.ended.done() else result.FAILED
    _record_refused(q, queue.refuse(q.id, now, "goodbye", priority=priority, number=number))
    return result.NOT_TAKEN


def _record_refused(q: QueuedCall, exit_: QueueExit) -> None:
    """A caller who never waited: their entry, opened and closed at once."""
    store, node = q.acd.store, q.acd.node_name

    async def record() -> None:
        entry = await store.acd.open_entry(q.id, q.queue, exit_.priority, exit_.entered_at,
                                           caller=exit_.number, node=node)
        await store.acd.close_entry(entry, exit_.left_at, exit_.outcome.value,
                                    limit=exit_.limit.value if exit_.limit else None)

    q.acd.journal.submit(record)
    q.acd.call_event(q.call, "queue", {
        "queue": q.queue, "action": "refused", "outcome": exit_.outcome.value,
        "limit": exit_.limit.value if exit_.limit else None})


async def send_on(q: QueuedCall, uri: str) -> QueueResult:
    """Blind-transfer the caller to `uri` (ringback until the outcome)."""
    result = QueueResult
    try:
        code = await blind_transfer(q.call, uri, q.rate)
    except CallGone:
        return result.DONE
    except TimeoutError:
        return result.FAILED
    return result.DONE if 200 <= code < 300 else result.FAILED


async def _key_pressed(q: QueuedCall, key: str) -> str:
    while await q.call.dtmf.get() != key:
        pass
    return key


async def _offer_callback(q: QueuedCall, action: CallbackAtLimit) -> bool:
    """Say the offer and wait `timeout_s` for the key (pressed during the offer counts)."""
    while not q.call.dtmf.empty():  # keys pressed before the offer do not count
        q.call.dtmf.get_nowait()
    pressed = asyncio.ensure_future(_key_pressed(q, action.key))
    text = action.say or CALLBACK_OFFER.format(key=_key_name(action.key))
    try:
        saying = asyncio.ensure_future(q.acd.say(
            q.call, text, state=f"queue:{q.queue}", still=lambda: not pressed.done()))
        news: list[asyncio.Future[Any]] = [pressed, saying, q.call.ended]
        await asyncio.wait(news, return_when=asyncio.FIRST_COMPLETED)
        if pressed.done():
            q.call.stop_audio()
        await saying
        if not pressed.done() and not q.call.ended.done():
            either: list[asyncio.Future[Any]] = [pressed, q.call.ended]
            await asyncio.wait(either, timeout=action.timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
        return pressed.done() and not q.call.ended.done()
    finally:
        pressed.cancel()


def _key_name(key: str) -> str:
    return {"*": "star", "#": "the hash key"}.get(key, key)


async def _called_back(q: QueuedCall, exit_: QueueExit, request: CallbackRequest, *,
                       closed: bool = False) -> QueueResult:
    """Store the callback request, confirm it, goodbye."""
    if not closed:
        q.close(exit_)
    callback_id: int | None = None
    try:
        callback_id = await q.acd.store.acd.add_callback(
            request.number, request.queue, request.reason.value, request.requested_at,
            call_id=request.call_id)
    except StoreError as exc:
        log.error("call %s: callback request not stored: %s", q.id[:8], exc)
    q.acd.call_event(q.call, "callback", {"queue": request.queue, "number": request.number,
                                          "reason": request.reason.value, "id": callback_id})
    log.info("call %s: callback requested (%s) for %s", q.id[:8], request.reason.value,
             request.number)
    await q.acd.say(q.call, CALLBACK_CONFIRMED, state=f"queue:{q.queue}")
    return QueueResult.DONE


async def _voicemail(q: QueuedCall, action: VoicemailAtLimit) -> QueueResult:
    """Prompt, beep, record the caller's message, store where it is; goodbye."""
    result = QueueResult
    state = f"queue:{q.queue}"
    await q.acd.say(q.call, action.say or VOICEMAIL_PROMPT, state=state)
    if q.call.ended.done():
        return result.ABANDONED
    folder = action.dir or q.acd.settings.node.data_dir / "voicemail"
    path = folder / voicemail_name(q.id, q.acd.clock())
    with contextlib.suppress(MediaError):
        await q.call.play(record_beep(q.rate))
    while not q.call.dtmf.empty():  # keys pressed before the beep do not end it
        q.call.dtmf.get_nowait()
    try:
        message = await record_message(q.call, path, max_s=action.max_s,
                                       silence_s=action.silence_s)
    except OSError as exc:
        log.error("call %s: voicemail not written to %s: %s", q.id[:8], path, exc)
        return result.ABANDONED if q.call.ended.done() else result.FAILED
    voicemail_id: int | None = None
    try:
        voicemail_id = await q.acd.store.voicemails.add(
            q.id, q.queue, str(message.path), message.duration_s, message.ended_by,
            q.acd.clock(), caller=q.number or None, node=q.acd.node_name)
    except StoreError as exc:
        log.error("call %s: voicemail %s not stored: %s", q.id[:8], message.path, exc)
    q.acd.call_event(q.call, "voicemail", {
        "queue": q.queue, "path": str(message.path), "duration_s": round(message.duration_s, 2),
        "ended_by": message.ended_by, "number": q.number or None, "id": voicemail_id})
    log.info("call %s: voicemail of %.1f s in %s (%s)", q.id[:8], message.duration_s,
             message.path, message.ended_by)
    if q.call.ended.done():
        return result.ABANDONED
    await q.acd.say(q.call, VOICEMAIL_SAVED, state=state)
    return result.DONE
