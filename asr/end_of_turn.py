"""Whether the caller has finished their turn, judged from the sound of its end.

At the first pause of an utterance the stream asks a :class:`TurnDetector`
how likely the audio so far is a finished turn. The default is
:class:`SmartTurnDetector`: the smart-turn v3.2 model (BSD-2-Clause, Daily),
a Whisper-encoder classifier trained on the prosody of utterance ends, run
with onnxruntime on the last 8 s of the utterance resampled to 16 kHz. Its
ONNX file is read from the installed ``pipecat-ai`` wheel, which ships it;
nothing is downloaded and the ``pipecat`` package itself is never imported.

The audio decides; the transcript is one more signal (:func:`decide`): a
speculative final that stops on a word that asks for more ("my", "and",
"the") keeps the turn open whatever the voice did, and without an audio
decision (detector off or failed) the punctuation rule of
:func:`asr.endpointing.looks_complete` applies as before.

``bench/end_of_turn.py`` measures the choice on recorded human telephone
speech. One decision costs about 30 ms of one core (onnxruntime, one
thread), so :meth:`SmartTurnDetector.probability` is blocking: call it off
the event loop. It is thread-safe; one detector serves the whole node.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import soxr

from asr.endpointing import looks_complete, trails_off
from asr.settings import EndOfTurnSettings
from callcenter.core.errors import SettingsError

log = logging.getLogger(__name__)

MODEL_RATE = 16000
WINDOW_S = 8
SMART_TURN_DISTRIBUTION = "pipecat-ai"
SMART_TURN_FILE = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"


class TurnDetector(Protocol):
    """Probability that an utterance's audio so far is a finished turn."""

    def probability(self, audio: bytes, rate: int) -> float:
        """`audio`: mono PCM16 at `rate`, the utterance up to now (blocking)."""
        ...


def bundled_smart_turn_path() -> Path:
    """The smart-turn v3.2 ONNX file inside the installed ``pipecat-ai`` wheel.

    Raises FileNotFoundError naming the package when it is not installed.
    """
    try:
        dist = metadata.distribution(SMART_TURN_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the end-of-turn model ships in the {SMART_TURN_DISTRIBUTION!r} package, which is "
            "not installed (pip install the project again, or set asr.end_of_turn.model)"
        ) from None
    path = Path(str(dist.locate_file(SMART_TURN_FILE)))
    if not path.is_file():
        raise FileNotFoundError(
            f"{SMART_TURN_DISTRIBUTION} {dist.version} has no {SMART_TURN_FILE}")
    return path


class SmartTurnDetector:
    """smart-turn v3 on onnxruntime: one session, `threads` intra-op threads."""

    def __init__(self, model: Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        path = model or bundled_smart_turn_path()
        if not path.is_file():
            raise FileNotFoundError(f"end-of-turn model not found: {path}")
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.model = path
        self._session: Any = ort.InferenceSession(str(path), sess_options=options,
                                                  providers=["CPUExecutionProvider"])
        self._features = FeatureExtractor(feature_size=80, sampling_rate=MODEL_RATE,
                                          chunk_length=WINDOW_S)
        self._lock = threading.Lock()  # FeatureExtractor keeps per-call state

    def features(self, audio: bytes, rate: int) -> npt.NDArray[np.float32]:
        """Whisper log-mel features (80 x 800) of the last 8 s, zero-padded in front."""
        samples = np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0
        if rate != MODEL_RATE:
            samples = soxr.resample(samples, rate, MODEL_RATE, quality="HQ")
        size = WINDOW_S * MODEL_RATE
        samples = samples[-size:]
        window = np.zeros(size, dtype=np.float32)
        window[size - len(samples):] = samples
        # Zero mean, unit variance over the window, as the model was trained.
        window = (window - window.mean()) / np.sqrt(window.var() + 1e-7)
        with self._lock:
            mel = self._features(window, padding=0)
        return np.asarray(mel[:, :size // 160], dtype=np.float32)

    def probability(self, audio: bytes, rate: int) -> float:
        """Probability (0..1) that the turn is finished; blocking, thread-safe."""
        if not audio:
            return 0.0
        mel = self.features(audio, rate)[np.newaxis]
        out = self._session.run(None, {"input_features": mel})
        return float(np.asarray(out[0]).reshape(-1)[0])


def decide(probability: float | None, text: str | None, threshold: float, *,
           short: bool = False) -> bool | None:
    """Is the turn finished? The audio decides, the text may keep it open.

    - `text` stopping on a word that asks for more ("my", "and"): not finished;
    - a `short` answer (less voice than ``short_answer_ms``: "yes", "two"):
      finished, whatever the audio says (the model hears one word poorly);
    - `probability` (from a :class:`TurnDetector`) at or above `threshold`:
      finished, below it not;
    - no audio decision: the punctuation of `text` (``looks_complete``);
    - neither: None (the endpointer's own length heuristic).
    """
    if text is not None and trails_off(text):
        return False
    if short:
        return True
    if probability is None:
        return None if text is None else looks_complete(text)
    return probability >= threshold


class TurnDecisions:
    """A node's :class:`TurnDetector` behind one worker thread, for the event loop.

    Decisions queue on the one thread (one per pause, not per frame), so a
    busy node delays them rather than taking more cores from recognition.
    """

    def __init__(self, detector: TurnDetector, threshold: float) -> None:
        self.detector = detector
        self.threshold = threshold
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="end-of-turn")

    async def probability(self, audio: bytes, rate: int,
                          wanted: Callable[[], bool] | None = None) -> float | None:
        """P(finished) of `audio`, or None when the detector failed (logged)
        or, once its turn on the thread came, `wanted()` said it no longer
        matters (the caller spoke again): a busy node skips stale work."""
        def run() -> float | None:
            if wanted is not None and not wanted():
                return None
            return self.detector.probability(audio, rate)

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, run)
        except Exception:
            log.exception("end-of-turn decision failed")
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@functools.cache
def turn_decisions(settings: EndOfTurnSettings) -> TurnDecisions | None:
    """The node's decisions for `settings`, loaded once (blocking: call it at
    start-up, off the event loop); None when ``enabled`` is off.

    A missing or unloadable model raises SettingsError naming
    ``asr.end_of_turn.model`` and the file or the package.
    """
    if not settings.enabled:
        return None
    try:
        detector = SmartTurnDetector(settings.model, threads=settings.threads)
    except Exception as exc:  # missing file, or onnxruntime cannot load it
        raise SettingsError(f"invalid setting 'asr.end_of_turn.model': {exc}") from None
    return TurnDecisions(detector, settings.threshold)
