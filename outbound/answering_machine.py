"""Answering-machine detection (AMD) from the first seconds of an answered call.

Fed the callee's audio frame by frame from the answer on (mono PCM16, 8 or
16 kHz, 20 ms frames), `AnsweringMachineDetector` decides whether a person
or a machine picked up, with the classic cues of telephone AMD:

- a person says a short "Hello?" (0.3 to 0.8 s of voice) and then waits in
  silence: a first utterance of less than ``greeting_s`` voiced seconds
  followed by ``after_greeting_silence_s`` of silence is a person;
- a machine plays a greeting that goes on: more than ``greeting_s`` voiced
  seconds, or more than ``max_words`` words (bursts of speech split by
  pauses of at least ``word_gap_s``), in the first utterance is a machine;
- a beep (`BeepDetector`) is a machine at once;
- nothing decided by ``decision_s`` after the answer (silence, or speech
  that started late) counts as a person: greeting a machine costs a
  half-recorded message, ignoring a person costs an abandoned call.

On a machine the detector goes on listening for the moment the message may
start (`MessageCue`): the end of the beep; else, once the greeting was
heard, ``greeting_end_silence_s`` of silence; else ``beep_wait_max_s`` after
the decision. Speech frames come from webrtcvad, with frames quieter than
-55 dBFS taken as silence whatever it says (its hang-over, see asr/vad.py).

Pure: no I/O, no clock but the frames' count, so a test feeds it a file and
gets the same answer every time. Cost: one webrtcvad call and one 40 ms FFT
per frame (a few tens of microseconds), light enough for the event loop.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import webrtcvad

from callcenter.core.settings import AnsweringMachineSettings

RATES = (8000, 16000)
FRAME_MS = 20
#: Frames quieter than this are silence whatever webrtcvad says (its hang-over).
SILENCE_DBFS = -55.0
#: Consecutive speech frames that start a word (a click or a pop is shorter).
WORD_ONSET_FRAMES = 2


class Verdict(enum.StrEnum):
    """Who answered."""

    HUMAN = "human"
    MACHINE = "machine"


@dataclass(frozen=True)
class AmdDecision:
    """The detector's decision: who answered, by which cue, how long after the answer.

    ``reason``: ``short_hello`` (short speech, then silence), ``deadline``
    (undecided at ``decision_s``, speech heard), ``silence`` (nothing heard by
    then), ``long_greeting``, ``many_words`` or ``beep``.
    """

    verdict: Verdict
    reason: str
    at_s: float


@dataclass(frozen=True)
class MessageCue:
    """On a machine: the message may start now. ``reason``: ``beep`` (its end),
    ``greeting_end`` (silence after the greeting) or ``timeout``."""

    reason: str
    at_s: float
    beep_hz: float | None = None


def frame_bytes(rate: int) -> int:
    """Bytes of one 20 ms PCM16 frame at ``rate``."""
    return rate * FRAME_MS // 1000 * 2


class BeepDetector:
    """Finds a beep: one steady narrowband tone in ``[min_hz, max_hz]`` lasting at
    least ``min_s``.

    Each 20 ms frame is analysed with the one before it (a 40 ms Hann-windowed
    FFT, 25 Hz bins): a frame is tonal when the strongest bin of the band and
    its two neighbours each side hold ``TONAL_SHARE`` of the whole power and
    the frame is louder than ``MIN_DBFS``. Real speech passes that test too,
    for up to a quarter of a second, on a long vowel whose one harmonic
    dominates the telephone band (measured on shared/testdata/real-speech-en).
    So a run of tonal frames at one frequency (within two bins) as long as
    ``min_s`` is a beep only if, over the whole run, one FFT puts
    ``STEADY_SHARE`` of the power within two bins of its peak (a beep keeps its
    frequency to the hertz; a vowel's harmonic drifts with the pitch: at most
    0.975 measured, a μ-law beep 0.999) and the frames' levels stay within
    ``FLAT_DB`` (a vowel swells and fades: 3.8 dB and more; a beep under 1 dB).
    `feed` returns ``"start"`` when a beep is confirmed, ``"end"`` on the first
    frame after it.
    """

    TONAL_SHARE = 0.8
    STEADY_SHARE = 0.98
    FLAT_DB = 3.0
    MIN_DBFS = -45.0

    def __init__(self, rate: int, min_hz: float, max_hz: float, min_s: float) -> None:
        if rate not in RATES:
            raise ValueError(f"unsupported rate {rate} Hz; supported: {RATES}")
        if not 0 < min_hz < max_hz < rate / 2:
            raise ValueError(f"beep band {min_hz}-{max_hz} Hz does not fit {rate} Hz audio")
        self.rate = rate
        frame = rate * FRAME_MS // 1000
        self._window = np.hanning(2 * frame).astype(np.float32)
        self._bin_hz = rate / (2 * frame)
        self._lo = max(2, math.ceil(min_hz / self._bin_hz))
        self._hi = math.floor(max_hz / self._bin_hz)
        self._min_frames = max(2, math.ceil(min_s * 1000 / FRAME_MS))
        self._recent = np.zeros((self._min_frames, frame), dtype=np.float32)
        self._long_window = np.hanning(self._min_frames * frame)
        # Sum of squares of a 20 ms frame at MIN_DBFS (a full-scale sine is 0 dBFS).
        self._floor = frame * (32768.0 * 10 ** (self.MIN_DBFS / 20)) ** 2 / 2
        self._run = 0
        self._run_bin = -1
        self.active = False
        self.frequency_hz: float | None = None  # of the last beep found

    def feed(self, samples: np.ndarray) -> str | None:
        """One frame of samples (float32); ``"start"``, ``"end"`` or None."""
        previous = self._recent[-1].copy()
        self._recent = np.roll(self._recent, -1, axis=0)
        self._recent[-1] = samples
        peak = self._tonal_bin(samples, np.concatenate((previous, samples)))
        if peak is not None and self._run and abs(peak - self._run_bin) <= 2:
            self._run += 1
        elif peak is not None:
            self._run, self._run_bin = 1, peak
        else:
            self._run = 0
        if self.active and self._run == 0:
            self.active = False
            return "end"
        if not self.active and self._run >= self._min_frames and self._steady():
            self.active = True
            return "start"
        return None

    def _tonal_bin(self, samples: np.ndarray, block: np.ndarray) -> int | None:
        if float(np.dot(samples, samples)) < self._floor:
            return None
        power = np.abs(np.fft.rfft(block * self._window)) ** 2
        total = float(power[1:].sum())
        if total <= 0.0:
            return None
        peak = self._lo + int(np.argmax(power[self._lo:self._hi + 1]))
        share = float(power[peak - 2:peak + 3].sum()) / total
        return peak if share >= self.TONAL_SHARE else None

    def _steady(self) -> bool:
        energy = np.einsum("ij,ij->i", self._recent, self._recent).astype(np.float64)
        low, high = float(energy.min()), float(energy.max())
        if low <= 0.0 or 10 * math.log10(high / low) > self.FLAT_DB:
            return False
        power = np.abs(np.fft.rfft(self._recent.ravel() * self._long_window)) ** 2
        peak = 1 + int(np.argmax(power[1:]))
        if float(power[max(1, peak - 2):peak + 3].sum()) < self.STEADY_SHARE * float(
                power[1:].sum()):
            return False
        self.frequency_hz = peak * self.rate / len(self._long_window)
        return True


class AnsweringMachineDetector:
    """Decides person or machine from an answered call's first frames; on a
    machine, then says when the message may start. One per call."""

    def __init__(self, rate: int,
                 settings: AnsweringMachineSettings | None = None) -> None:
        if rate not in RATES:
            raise ValueError(f"unsupported rate {rate} Hz; supported: {RATES}")
        self.settings = s = settings or AnsweringMachineSettings()
        self.rate = rate
        self.frame_bytes = frame_bytes(rate)
        self._vad = webrtcvad.Vad(s.vad_aggressiveness)
        self._beep = BeepDetector(rate, s.beep_min_hz, s.beep_max_hz, s.beep_min_s)
        samples = self.frame_bytes // 2
        self._silence_floor = samples * (32768.0 * 10 ** (SILENCE_DBFS / 20)) ** 2
        self._frames = 0
        self._voiced = 0  # speech frames in the first utterance
        self._words = 0
        self._speech_run = 0
        self._silence_run = 0
        self._heard = False  # a word has started
        self._in_word = False
        self.decision: AmdDecision | None = None
        self.cue: MessageCue | None = None
        self.beep_heard = False

    @property
    def elapsed_s(self) -> float:
        """Audio fed so far, in seconds since the answer."""
        return self._frames * FRAME_MS / 1000

    @property
    def done(self) -> bool:
        """Nothing more to find: a person, or a machine whose message may start."""
        return self.cue is not None or (self.decision is not None
                                        and self.decision.verdict is Verdict.HUMAN)

    def feed(self, frame: bytes) -> AmdDecision | MessageCue | None:
        """One 20 ms frame; returns the decision or the cue on the frame that
        makes it (each once), else None. Frames after `done` are ignored."""
        if len(frame) != self.frame_bytes:
            raise ValueError(f"expected {self.frame_bytes} bytes (20 ms at {self.rate} Hz), "
                             f"got {len(frame)}")
        if self.done:
            return None
        self._frames += 1
        pcm = np.frombuffer(frame, dtype="<i2").astype(np.float32)
        beep = self._beep.feed(pcm)
        speech = (float(np.dot(pcm, pcm)) >= self._silence_floor
                  and self._vad.is_speech(frame, self.rate))
        if beep == "start":
            self.beep_heard = True
        sound = speech or self._beep.active
        self._speech_run = self._speech_run + 1 if speech else 0
        self._silence_run = 0 if sound else self._silence_run + 1
        if self.decision is None:
            return self._decide(speech, beep)
        return self._await_message(beep)

    def _decide(self, speech: bool, beep: str | None) -> AmdDecision | None:
        s = self.settings
        if beep == "start":
            return self._decided(Verdict.MACHINE, "beep")
        if speech and self._speech_run == WORD_ONSET_FRAMES and not self._in_word:
            self._in_word, self._heard = True, True
            self._words += 1
            self._voiced += WORD_ONSET_FRAMES - 1
        if self._in_word and speech:
            self._voiced += 1
        if self._in_word and self._silence_run * FRAME_MS >= s.word_gap_s * 1000:
            self._in_word = False
        if self._voiced * FRAME_MS > s.greeting_s * 1000:
            return self._decided(Verdict.MACHINE, "long_greeting")
        if self._words > s.max_words:
            return self._decided(Verdict.MACHINE, "many_words")
        if self._heard and self._silence_run * FRAME_MS >= s.after_greeting_silence_s * 1000:
            return self._decided(Verdict.HUMAN, "short_hello")
        if self.elapsed_s >= s.decision_s:
            return self._decided(Verdict.HUMAN, "deadline" if self._heard else "silence")
        return None

    def _decided(self, verdict: Verdict, reason: str) -> AmdDecision:
        self.decision = AmdDecision(verdict, reason, round(self.elapsed_s, 3))
        return self.decision

    def _await_message(self, beep: str | None) -> MessageCue | None:
        s = self.settings
        assert self.decision is not None
        if beep == "end":
            return self._cue("beep")
        if self._beep.active:
            return None
        if self._silence_run * FRAME_MS >= s.greeting_end_silence_s * 1000:
            return self._cue("greeting_end")
        if self.elapsed_s - self.decision.at_s >= s.beep_wait_max_s:
            return self._cue("timeout")
        return None

    def _cue(self, reason: str) -> MessageCue:
        hz = self._beep.frequency_hz if reason == "beep" else None
        self.cue = MessageCue(reason, round(self.elapsed_s, 3), hz)
        return self.cue
