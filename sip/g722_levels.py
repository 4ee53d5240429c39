"""G.722 at the same loudness as G.711, both ways, for the whole call.

pjmedia's G.722 codec treats its 16-bit PCM as the 14-bit signal of the
ITU reference: it divides what it encodes by 4 and multiplies what it
decodes by 4 (``PJMEDIA_G722_DEFAULT_PCM_SHIFT`` 2). Every other common
G.722 (spandsp, which baresip and Asterisk use, and ffmpeg's port of it)
scales by 2. Measured against ffmpeg's codec (tests/sip/test_g722_levels.py)
and spandsp 0.0.6: pjmedia's default sends the engine 6.0 dB low and hears
the caller 6.0 dB hot; a shift of 1 is unity within 0.05 dB.

A shift of 1 alone is not enough: with ``PJMEDIA_G722_STOP_PCM_SHIFT_ON_
CLIPPING`` (on in both the stock wheel and the dense build) the first
decoded sample outside the shifted range halves the shift of that call's
codec for good, and its encoder shares it. A full-scale caller peak decodes
to 16384 (one past the limit of a shift of 1), so after the caller's first
shout the engine would hear them 6 dB lower and send 6 dB louder.

So the codec shifts nothing (``pjmedia_codec_g722_set_pcm_shift(0)``, which
also skips the clipping check) and a G.722 leg's slot in the conference
bridge scales instead: what the bridge takes from the call x2 (saturating),
what it gives the call x0.5. That is a shift of 1 that clips instead of
changing level, done by pjmedia's bridge in C, set once per leg. Routes
between two G.722 legs stay at unity: each leg's slot undoes its own codec.
"""

from __future__ import annotations

import ctypes

import pjsua2._pjsua2 as _pjsua2_lib

from callcenter.core.errors import MediaError

G722_PCM_SHIFT = 0
"""Codec-level shift (pjmedia's default is 2); the bridge does the scaling."""

G722_FROM_CALL = 2.0
"""Bridge level on what a G.722 call's decoder delivers (x2, saturating)."""

G722_TO_CALL = 0.5
"""Bridge level on what the bridge hands a G.722 call's encoder."""


def set_g722_pcm_shift() -> None:
    """Make pjmedia's G.722 codec shift nothing. SIP thread, after
    ``libInit`` (which registers the codec with its default shift) and
    before any call opens a codec; applies to every codec opened after."""
    lib = ctypes.CDLL(_pjsua2_lib.__file__)
    try:
        fn = lib.pjmedia_codec_g722_set_pcm_shift
    except AttributeError:
        raise MediaError(f"{_pjsua2_lib.__file__} does not export "
                         "pjmedia_codec_g722_set_pcm_shift: G.722 levels cannot be set; "
                         "this pjsua2 build is unsupported") from None
    fn.argtypes = [ctypes.c_uint]
    fn.restype = ctypes.c_int
    status = fn(G722_PCM_SHIFT)
    if status != 0:
        raise MediaError(f"pjmedia_codec_g722_set_pcm_shift failed (status {status})")


def bridge_levels(codec: str) -> tuple[float, float]:
    """(from the call, to the call) levels for a call's bridge slot; 1.0 is
    unity. Set for every codec, so a re-INVITE away from G.722 resets them."""
    if codec.upper().startswith("G722"):
        return G722_FROM_CALL, G722_TO_CALL
    return 1.0, 1.0
