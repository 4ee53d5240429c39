"""Speaking: text to the call's audio.

- `piper_voice.py`: :class:`PiperSynthesizer`, the kernel's ``Synthesizer``
  port on Piper: sentence-streamed, resampled with soxr, cancellable;
- `normalize.py` / `spoken.py`: numbers, money, dates, times, codes and
  abbreviations rewritten into the words a person says;
- `sentences.py`: sentence splitting (the unit of streaming and caching);
- `prompt_cache.py`: synthesized sentences in memory and on disk;
- `settings.py`: the ``tts:`` settings section.

May import the kernel and `config` only (tests/test_architecture.py).
"""
