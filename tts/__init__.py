"""Speaking: piper synthesis, resampling to the call's rate, prompt cache.

Empty until the conversational IVR lands; may import the kernel and `config`.
"""
