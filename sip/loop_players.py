"""Looping WAV sources in the conference bridge: hold audio without Python.

A caller on hold hears a WAV played in a loop. Feeding it through a leg's
engine port would cost a Python up-call per caller per frame; instead one
pjmedia WAV player per file joins the bridge and is routed to every leg
that should hear it (:meth:`sip.leg_audio.LegAudio.hear_slot`), so hold
audio for hundreds of callers costs the bridge's mixing only.

Players live as long as the node: they are created on first use, shared,
and destroyed on the SIP thread after the clock has stopped (pjsua2
objects must be gone before ``libDestroy``). Files are prepared first
(:func:`prepare_loop_wav`, off the SIP thread): mono PCM16 at the bridge's
clock rate, which is what pjmedia's WAV player reads without surprises.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pjsua2 as pj

from callcenter.core.errors import MediaError
from sip.call import load_wav_pcm, save_wav_pcm


def prepare_loop_wav(source: Path, cache_dir: Path, rate: int) -> Path:
    """A mono PCM16 copy of `source` at `rate` in `cache_dir` (blocking: run in
    a thread). Raises :class:`MediaError` naming the file if it cannot be read."""
    pcm = load_wav_pcm(source, rate)
    if not pcm:
        raise MediaError(f"{source}: the WAV file holds no audio")
    digest = hashlib.sha256(pcm).hexdigest()[:16]
    target = cache_dir / f"{source.stem}-{rate}-{digest}.wav"
    if not target.is_file():
        save_wav_pcm(target, pcm, rate)
    return target


class LoopPlayers:
    """One looping player per prepared WAV file (SIP thread only)."""

    def __init__(self) -> None:
        self._players: dict[Path, Any] = {}

    def slot_for(self, path: Path) -> int:
        """The bridge slot of the looping player of `path`, created on first use."""
        player = self._players.get(path)
        if player is None:
            player = pj.AudioMediaPlayer()
            try:
                player.createPlayer(str(path), 0)  # 0: loop at the end
            except pj.Error as exc:
                raise MediaError(f"cannot play {path}: {exc.reason}") from None
            self._players[path] = player
        return int(player.getPortId())

    @property
    def count(self) -> int:
        return len(self._players)

    def destroy(self) -> None:
        """Drop every player; only once the conference clock has stopped."""
        self._players.clear()
