"""Listening to caller audio: VAD, endpointing, streaming Whisper.

- :mod:`asr.vad`: webrtcvad on 10/20/30 ms frames at 8 or 16 kHz.
- :mod:`asr.endpointing`: pure logic from voiced/unvoiced frames to speech
  start (barge-in), utterance end, no-input and maximum length.
- :mod:`asr.whisper`: :class:`~asr.whisper.WhisperRecognizer`, the
  ``Recognizer`` port over one shared faster-whisper model and a bounded
  worker pool (finals before partials).
- :mod:`asr.stream`: :class:`~asr.stream.UtteranceStream`, one call's frames
  in, SpeechStarted / Partial / Final / NoInput out.
- :mod:`asr.end_of_turn`: whether the caller has finished, from the sound
  of the utterance's end (smart-turn v3.2 on onnxruntime, once per pause),
  with the transcript as a second signal.
- :mod:`asr.settings`: the ``asr:`` settings section.
- :mod:`asr.prosody`: tone and pace of one utterance from the raw audio
  (pitch, range, spectral tilt, voice quality, speech rate), no ASR.
- :mod:`asr.agitation`: per-call tracker scoring each utterance's tone and
  pace against the caller's own calm start (the kernel's
  ``UtteranceScores``); words and the escalation decision are the dialog's
  (``dialog.agitation_words``, ``dialog.escalation_policy``).

May import the kernel (``callcenter.core``) and ``config`` only.
"""
