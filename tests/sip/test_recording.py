"""Two-channel call recording: content, incremental flush, crash repair."""

from __future__ import annotations

import hashlib
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from callcenter.core.errors import MediaError
from sip.recording import FinishedRecording, RecordingWriter, repair_recording

REPO = Path(__file__).resolve().parents[2]


def sine_frames(freq: float, seconds: float, rate: int) -> list[bytes]:
    """`seconds` of a sine wave as 20 ms PCM16 frames, phase-continuous."""
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * freq * t) * 12000).astype("<i2")
    step = rate // 50
    return [pcm[i : i + step].tobytes() for i in range(0, len(pcm), step)]


def read_channels(path: Path) -> tuple[wave.Wave_read, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        frames = w.readframes(w.getnframes())
        samples = np.frombuffer(frames, dtype="<i2").reshape(-1, w.getnchannels())
        return w, samples


def dominant_hz(channel: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(channel.astype(np.float64)))
    return float(np.fft.rfftfreq(len(channel), 1 / rate)[int(np.argmax(spectrum))])


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def writer() -> Iterator[RecordingWriter]:
    w = RecordingWriter(flush_interval_s=0.2)
    w.start()
    yield w
    w.stop()


@pytest.mark.parametrize("rate", [8000, 16000])
def test_two_channels_hold_caller_and_heard(
    writer: RecordingWriter, tmp_path: Path, rate: int
) -> None:
    rec = writer.open(tmp_path / "calls" / "c1.wav", rate)
    for c, h in zip(sine_frames(440, 3.0, rate), sine_frames(1000, 3.0, rate), strict=True):
        rec.add_caller(c)
        rec.add_heard(h)
    done = writer.close(rec)

    w, samples = read_channels(done.path)
    assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, rate)
    assert abs(w.getnframes() / rate - 3.0) <= 0.02
    assert abs(done.seconds - 3.0) <= 0.02
    assert done.sample_rate == rate
    assert dominant_hz(samples[:, 0], rate) == pytest.approx(440, abs=2)
    assert dominant_hz(samples[:, 1], rate) == pytest.approx(1000, abs=2)
    assert done.sha256 == hashlib.sha256(done.path.read_bytes()).hexdigest()
    assert writer.close(rec) == done  # idempotent


def test_nothing_heard_gives_silent_second_channel(writer: RecordingWriter, tmp_path: Path) -> None:
    rec = writer.open(tmp_path / "c2.wav", 8000)
    for c in sine_frames(440, 3.0, 8000):
        rec.add_caller(c)
    done = writer.close(rec)

    w, samples = read_channels(done.path)
    assert w.getnchannels() == 2
    assert abs(w.getnframes() / 8000 - 3.0) <= 0.02
    assert not samples[:, 1].any()
    assert dominant_hz(samples[:, 0], 8000) == pytest.approx(440, abs=2)


def test_file_is_valid_while_still_open(writer: RecordingWriter, tmp_path: Path) -> None:
    path = tmp_path / "c3.wav"
    rec = writer.open(path, 8000)
    for c, h in zip(sine_frames(440, 2.0, 8000), sine_frames(1000, 2.0, 8000), strict=True):
        rec.add_caller(c)
        rec.add_heard(h)

    def on_disk_seconds() -> float:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()

    assert wait_until(lambda: on_disk_seconds() >= 1.5, timeout=3.0)
    assert path.stat().st_size == 44 + round(on_disk_seconds() * 8000) * 4
    writer.close(rec)


def test_lagging_stream_is_padded_before_close(writer: RecordingWriter, tmp_path: Path) -> None:
    path = tmp_path / "c4.wav"
    rec = writer.open(path, 8000)
    for c in sine_frames(440, 2.5, 8000):
        rec.add_caller(c)

    def on_disk_seconds() -> float:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()

    # More than max_skew_s (1 s) ahead: the caller's audio is written, heard padded.
    assert wait_until(lambda: on_disk_seconds() >= 2.0, timeout=3.0)
    writer.close(rec)


def test_stop_closes_open_recordings(tmp_path: Path) -> None:
    w = RecordingWriter(flush_interval_s=0.2)
    w.start()
    rec = w.open(tmp_path / "c5.wav", 8000)
    for c in sine_frames(440, 1.0, 8000):
        rec.add_caller(c)
        rec.add_heard(c)
    finished = w.stop()
    assert [f.path for f in finished] == [rec.path]
    assert abs(finished[0].seconds - 1.0) <= 0.02
    assert not any(t.name == "recorder" and t.is_alive() for t in threading.enumerate())


def test_open_never_overwrites(writer: RecordingWriter, tmp_path: Path) -> None:
    path = tmp_path / "c6.wav"
    path.write_bytes(b"earlier")
    with pytest.raises(MediaError, match="c6.wav"):
        writer.open(path, 8000)
    assert path.read_bytes() == b"earlier"


def test_deferred_open_creates_the_file_on_the_recorder_thread(tmp_path: Path) -> None:
    w = RecordingWriter(flush_interval_s=0.1)
    path = tmp_path / "2026" / "c7.wav"
    rec = w.open_deferred(path, 8000)
    assert not path.exists()  # no I/O on the caller's (the SIP) thread
    w.start()
    try:
        for c in sine_frames(440, 0.5, 8000):
            rec.add_caller(c)
            rec.add_heard(c)
        deadline = time.monotonic() + 5
        while not (path.exists() and rec.seconds > 0):
            assert time.monotonic() < deadline, "the recorder did not create the file"
            time.sleep(0.05)
        finished = w.close(rec)
    finally:
        w.stop()
    assert abs(finished.seconds - 0.5) <= 0.02
    assert finished.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_deferred_open_reports_a_file_it_cannot_create_at_close(
        writer: RecordingWriter, tmp_path: Path) -> None:
    path = tmp_path / "c8.wav"
    path.write_bytes(b"earlier")
    rec = writer.open_deferred(path, 8000)
    rec.add_caller(bytes(320))
    rec.add_heard(bytes(320))
    writer.flush_all()  # logged there; the other recordings go on
    with pytest.raises(MediaError, match="c8.wav"):
        writer.close(rec)
    assert path.read_bytes() == b"earlier"


CHILD = """
import sys, time
from pathlib import Path
import numpy as np
from sip.recording import RecordingWriter

w = RecordingWriter(flush_interval_s=0.2)
w.start()
rec = w.open(Path(sys.argv[1]), 8000)
frame = (np.sin(np.arange(160) * 0.3) * 8000).astype("<i2").tobytes()
start = time.monotonic()
for n in range(1, 100_000):
    rec.add_caller(frame)
    rec.add_heard(frame)
    print(n, flush=True)
    time.sleep(max(0.0, start + n * 0.02 - time.monotonic()))
"""


def test_killed_process_leaves_a_repairable_file(tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert select.select([child.stdout], [], [], 20)[0], "child never started feeding"
        first = child.stdout.readline()
        assert first.strip() == "1"
        time.sleep(1.5)
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    fed_s = int(out.split()[-1]) * 0.02

    done = repair_recording(path)

    w, samples = read_channels(path)
    assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 8000)
    assert abs(done.seconds - fed_s) <= 0.5, (done.seconds, fed_s)
    assert w.getnframes() == len(samples) == round(done.seconds * 8000)
    size = path.stat().st_size
    riff_size, data_size = struct.unpack("<I", path.read_bytes()[4:8]) + (w.getnframes() * 4,)
    assert (riff_size, data_size) == (size - 8, size - 44)
    assert done.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def wav_bytes(data: bytes, rate: int = 8000, channels: int = 2, declared: int = 0) -> bytes:
    align = channels * 2
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + declared, b"WAVE", b"fmt ", 16, 1, channels, rate,
        rate * align, align, 16, b"data", declared,
    )  # fmt: skip
    return header + data


def test_repair_drops_half_stereo_frame(tmp_path: Path) -> None:
    path = tmp_path / "half.wav"
    path.write_bytes(wav_bytes(bytes(range(200)) * 4 + b"\x01\x02"))  # 200 stereo frames + half

    done = repair_recording(path)

    assert path.stat().st_size == 44 + 800
    assert done == FinishedRecording(
        path, hashlib.sha256(path.read_bytes()).hexdigest(), 200 / 8000, 8000
    )
    with wave.open(str(path), "rb") as w:
        assert w.getnframes() == 200


def test_repair_accepts_empty_recording(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(wav_bytes(b"", rate=16000))
    assert repair_recording(path).seconds == 0.0
    with wave.open(str(path), "rb") as w:
        assert (w.getnframes(), w.getframerate()) == (0, 16000)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is not audio at all" * 3, wav_bytes(b"\x00" * 64, channels=1)],
    ids=["empty-file", "text", "mono-wav"],
)
def test_repair_rejects_what_is_not_our_wav(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(MediaError, match="notes.txt"):
        repair_recording(path)
    assert path.read_bytes() == content
