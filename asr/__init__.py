"""Listening to caller audio: VAD, endpointing, streaming Whisper, prosody.

Empty until the conversational IVR lands; may import the kernel and `config`.
"""
