"""G.722 at the same loudness as G.711, both ways, for the whole call.

pjmedia's G.722 codec treats its 16-bit PCM as the 14-bit signal of the
ITU reference: it divides what it encodes by 4 and multiplies what it
decodes by 4 (``PJMEDIA_G722_DEFAULT_PCM_SHIFT`` 2). Other common G.722s
(spandsp, which baresip and Asterisk use, and ffmpeg's port of it) scale by
2. Measured against ffmpeg's codec (tests/sip/test_g722_levels.py) and
spandsp 0.0.6, on the stock wheel and the dense build alike: pjmedia's
default sends the engine 6.0 dB low and hears the caller 6.0 dB hot; a
shift of 1 is unity within 0.1 dB.

The mid-call jump had the same cause. With ``PJMEDIA_G722_STOP_PCM_SHIFT_
ON_CLIPPING`` (on in both builds) the first decoded sample outside
[-32768 >> shift, 32767 >> shift] halves that call's shift for good, in
its decoder and its encoder: at a shift of 2 any caller peak above about
-12 dBFS did it, and the engine's voice then got 6 dB louder. pjmedia's
decoder limits its output to [-16384, 16383] (the ITU reference's 15-bit
limit), exactly the range a shift of 1 accepts, so at 1 the check never
fires: no compile-time setting is needed, and a full-scale burst from the
caller leaves both levels where they were (the test sends one).
"""

from __future__ import annotations

import ctypes

import pjsua2._pjsua2 as _pjsua2_lib

from callcenter.core.errors import MediaError

G722_PCM_SHIFT = 1
"""Bits pjmedia's G.722 shifts PCM by (its default is 2): 16-bit PCM is
the codec's 15-bit signal, as in spandsp and ffmpeg."""


def set_g722_pcm_shift() -> None:
    """Set pjmedia's G.722 PCM shift. SIP thread, after ``libInit`` (which
    registers the codec with its default) and before any call opens a
    codec; every G.722 codec opened after uses it."""
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
