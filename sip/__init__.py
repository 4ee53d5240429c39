"""The SIP media layer: the only package that imports pjsua2.

One dedicated thread owns the pjsua2 `Endpoint`; everything else talks to it
through :class:`sip.node.SipNode` and :class:`sip.call.SipCall`, which are
asyncio-native. Audio crosses the thread boundary as 20 ms PCM16 frames.
"""
