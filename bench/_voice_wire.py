"""Turns and barge-ins located on the wire, and their engine-side breakdown (bench helper).

Input: the packets of bench/_rtp_energy.py, the caller's utterance log
(bench/_caller.py) and the engine's ``vprobe`` lines (bench/_voice_probe.py).
All times are CLOCK_REALTIME; they are returned in milliseconds relative to
the wire event they explain.
"""

from __future__ import annotations

import json
from typing import Any

from _caller import Utterance
from _rtp_energy import Stream

LOUD_RMS = 300.0  # a packet whose PCM16 RMS exceeds this carries speech
NS = 1_000_000_000


def pctl(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of `values`; None if empty."""
    if not values:
        return None
    vals = sorted(values)
    rank = max(1, min(len(vals), int(-(-q * len(vals) // 1))))
    return round(vals[rank - 1], 1)


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": pctl(values, 0.5), "p95": pctl(values, 0.95),
            "max": round(max(values), 1) if values else None,
            "min": round(min(values), 1) if values else None}


def max_gap_ms(stream: Stream, t0_ns: int, t1_ns: int) -> float:
    """The longest gap between consecutive packets of `stream` within [t0, t1]."""
    i = max(0, stream.index_after(t0_ns) - 1)
    worst = 0
    while i + 1 < len(stream.ns) and stream.ns[i] <= t1_ns:
        worst = max(worst, stream.ns[i + 1] - stream.ns[i])
        i += 1
    return round(worst / 1e6, 1)


DISTURBED_GAP_MS = 60.0  # a sender stalled this long: the machine was busy
# A caller speaking over a prompt: by then the engine has stopped talking,
# for at least BARGE_GAP_NS (a pause inside the prompt is shorter).
BARGE_STOP_NS = 700 * NS // 1000
BARGE_GAP_NS = 250 * NS // 1000


def send_jitter(streams: list[Stream]) -> dict[str, Any]:
    """Gaps between consecutive packets of `streams` (ms): how evenly a side sent.

    A sender that stalls and then bursts makes the receiver's adaptive jitter
    buffer grow, which delays everything that side says afterwards."""
    gaps: list[float] = []
    for s in streams:
        gaps.extend((b - a) / 1e6 for a, b in zip(s.ns, s.ns[1:], strict=False))
    return {"packets": len(gaps) + len(streams), "p99_gap_ms": pctl(gaps, 0.99),
            "max_gap_ms": round(max(gaps), 1) if gaps else None,
            "gaps_over_40ms": sum(1 for g in gaps if g > 40)}


def probe_events(engine_log: str) -> list[dict[str, Any]]:
    """The engine's ``vprobe`` records, in order."""
    out = []
    for line in engine_log.splitlines():
        at = line.find("vprobe {")
        if at >= 0:
            try:
                out.append(json.loads(line[at + 7:]))
            except json.JSONDecodeError:
                continue
    return out


def _first(events: list[dict[str, Any]], ev: str, rtp: int | None, after: float,
           before: float | None = None, key: str = "t") -> dict[str, Any] | None:
    for e in events:
        if e.get("ev") != ev or (rtp is not None and e.get("rtp") != rtp):
            continue
        t = e.get(key)
        if t is None or t < after:
            continue
        if before is not None and t > before:
            return None
        return e
    return None


def _ms(a: float | None, b: float | None) -> float | None:
    """(b - a) in ms for seconds a, b."""
    if a is None or b is None:
        return None
    return round((b - a) * 1000, 1)


def _speech_span(caller: Stream, utt: Utterance, rms: float = LOUD_RMS
                 ) -> tuple[int, int] | None:
    """First and last loud caller packet of `utt` on the wire (ns)."""
    t0 = int(utt.queued * NS)
    t1 = int((utt.queued + utt.seconds + 1.0) * NS)
    loud = caller.loud_between(t0, t1, rms)
    return (loud[0], loud[-1]) if loud else None


def _silence_start(engine: Stream, t0: int, t1: int, gap_ns: int) -> int | None:
    """When the engine's first silence of at least `gap_ns` after `t0` began."""
    previous = t0
    for t in engine.loud_between(t0, t1, LOUD_RMS):
        if t - previous >= gap_ns:
            return previous
        previous = t
    return previous if t1 - previous >= gap_ns else None


def voice_turn(utt: Utterance, caller: Stream, engine: Stream,
               events: list[dict[str, Any]], caller_port: int) -> dict[str, Any]:
    """Voice-to-voice latency of one caller turn, with the engine's breakdown."""
    turn: dict[str, Any] = {"call": utt.call, "text": utt.text}
    span = _speech_span(caller, utt)
    if span is None:
        return {**turn, "invalid": "caller speech not seen on the wire"}
    on, end = span
    reply_from = end
    if utt.kind == "over_prompt":
        # The caller's voice must have stopped the prompt (barge-in): the
        # engine falls silent within BARGE_STOP_NS of the onset, and its
        # reply is its first speech after that silence and the caller's end.
        stopped = _silence_start(engine, on, end + 15 * NS, BARGE_GAP_NS)
        if stopped is None or stopped > on + BARGE_STOP_NS:
            return {**turn, "invalid": "the prompt went on over the caller"}
        reply_from = max(end, stopped)
    elif engine.loud_between(on - NS // 5, end, LOUD_RMS):
        return {**turn, "invalid": "engine spoke during the caller's turn"}
    resp = engine.first_after(reply_from, min_rms=LOUD_RMS, until_ns=end + 15 * NS)
    if resp is None:
        return {**turn, "invalid": "no engine speech within 15 s"}
    audio = engine.first_after(end, min_peak=0.5, until_ns=resp) or resp
    turn["latency_ms"] = round((resp - end) / 1e6, 1)
    gap = max(max_gap_ms(caller, on - NS, end), max_gap_ms(engine, on - NS, resp))
    turn["disturbed"] = gap > DISTURBED_GAP_MS
    turn["first_audio_ms"] = round((audio - end) / 1e6, 1)
    if not events:
        return turn
    end_s, resp_s, audio_s = end / NS, resp / NS, audio / NS
    utt_end = _first(events, "utt_end", caller_port, end_s - 0.1, resp_s)
    if utt_end is None:
        return turn
    final = _first(events, "final", caller_port, utt_end["t"], resp_s)
    say = _first(events, "say", caller_port, final["t"] if final else utt_end["t"], resp_s)
    parts: dict[str, Any] = {
        "rx_path": _ms(end_s, utt_end.get("last_loud_rx")),
        "end_silence": _ms(utt_end.get("last_loud_rx"), utt_end["t"]),
        "end_silence_cfg": utt_end.get("end_silence_ms"),
        "hint": utt_end.get("hint"),
        "max_feed_gap": utt_end.get("max_feed_gap_ms"),
    }
    if final is not None:
        parts["asr_final"] = _ms(utt_end["t"], final["t"])
        parts["asr_compute"] = round(final["compute_s"] * 1000, 1) if final.get(
            "compute_s") else None
        parts["heard"] = final.get("text")
    if say is not None:
        parts["dialog"] = _ms(final["t"] if final else utt_end["t"], say["t"])
        parts["tts_first"] = _ms(say["t"], say.get("first_play"))
        parts["first_sentence_s"] = say.get("first_chunk_s")
        parts["clock_wait"] = _ms(say.get("first_play"), say.get("first_pull"))
        parts["send_path"] = _ms(say.get("first_pull"), audio_s)
        parts["leading_silence"] = _ms(audio_s, resp_s)
        parts["prompt"] = say.get("text")
    partials = [e for e in events if e.get("ev") == "partial_req" and e.get("rtp") == caller_port
                and on / NS - 0.5 <= e["t"] <= utt_end["t"]]
    parts["partials_asked"] = len(partials)
    if final is not None:
        # A partial still decoding while the final runs shares the CPU with it.
        overlap = 0.0
        for done in events:
            if (done.get("ev") == "partial_done" and done.get("rtp") == caller_port
                    and done["started"] < final["t"] and done["t"] > utt_end["t"]):
                overlap += min(done["t"], final["t"]) - max(done["started"], utt_end["t"])
        parts["partial_overlap"] = round(overlap * 1000, 1)
        # The final decoded at the caller's last pause: when it came back,
        # relative to the end of the utterance (negative: ready before it).
        back = [e for e in events if e.get("ev") == "speculated" and e.get("rtp") == caller_port
                and on / NS <= e["t"] <= final["t"] and not e.get("voided")]
        if back:
            parts["speculative_back"] = _ms(utt_end["t"], back[-1]["t"])
    turn["parts"] = parts
    return turn


def barge_trial(utt: Utterance, caller: Stream, engine: Stream,
                events: list[dict[str, Any]], caller_port: int,
                resume_gap_s: float = 0.6, rms: float = LOUD_RMS) -> dict[str, Any]:
    """From the caller's speech onset to the engine's last speech packet, both
    packets with an RMS above `rms`."""
    trial: dict[str, Any] = {"call": utt.call, "offset_s": utt.extra.get("offset_s")}
    span = _speech_span(caller, utt, rms)
    if span is None:
        return {**trial, "invalid": "caller speech not seen on the wire"}
    on = span[0]
    before = engine.loud_between(on - 3 * NS // 10, on, rms)
    if not before:
        return {**trial, "invalid": "engine was not speaking at the onset"}
    # The engine's speech runs on from its last loud packet before the onset
    # while loud packets follow each other closer than `resume_gap_s`.
    off = before[-1]
    for t in engine.loud_between(on, on + 20 * NS, rms):
        if t - off >= resume_gap_s * NS:
            break
        off = t
    trial["reaction_ms"] = round((off - on) / 1e6, 1)
    gap = max(max_gap_ms(caller, on - NS, on), max_gap_ms(engine, on - NS, off + NS // 5))
    trial["disturbed"] = gap > DISTURBED_GAP_MS
    if not events:
        return trial
    on_s, off_s = on / NS, off / NS
    playing = next((e for e in events if e.get("ev") == "say" and e.get("rtp") == caller_port
                    and e["t"] <= on_s <= e["end"]), None)
    if playing is not None:
        trial["prompt"] = playing.get("text", "")[:30]
        if not playing.get("barge_in"):
            return {**trial, "invalid": "the prompt playing does not allow barge-in"}
    # The event the engine barges in on: VoiceOnset where the product has it.
    started = (_first(events, "voice_onset", caller_port, on_s - 0.3, on_s + 5)
               or _first(events, "speech_started", caller_port, on_s - 0.3, on_s + 5))
    barge = _first(events, "barge", caller_port, on_s - 0.3, on_s + 5)
    parts: dict[str, Any] = {}
    if started is not None:
        parts["signal"] = started["ev"]
        parts["rx_path"] = _ms(on_s, started.get("onset_rx"))
        parts["detect"] = _ms(started.get("onset_rx"), started["t"])
    if barge is not None:
        parts["engine_cut"] = _ms(on_s, barge["t"])
        if started is not None:
            parts["to_stop"] = _ms(started["t"], barge["t"])
        say = _first(events, "say", caller_port, barge["t"], barge["t"] + 30, key="end")
        if say is not None and say.get("last_audio_pull"):
            parts["last_audio_pull"] = _ms(on_s, say["last_audio_pull"])
            parts["cut_to_last_pull"] = _ms(barge["t"], say["last_audio_pull"])
        parts["cut_to_wire_silent"] = _ms(barge["t"], off_s)
        # The engine went quiet in a pause of the prompt before its cut.
        trial["in_pause"] = off_s < barge["t"] - 0.02
    trial["parts"] = parts
    return trial
