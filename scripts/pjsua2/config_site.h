/*
 * pjproject config_site.h for the call-center engine's "dense" pjsua2 build.
 *
 * Used by scripts/build-pjsua2, which copies it to
 * pjlib/include/pj/config_site.h of the pjproject tree it builds. Its bytes
 * are part of the build's cache key: any edit here gives a new wheel.
 *
 * It lives next to the build script (scripts/pjsua2/), not in sip/: it is a
 * build input, not Python code, and sip/ is the engine's runtime package.
 *
 * Two kinds of settings:
 *   1. capacity: pjsua's compiled-in limits. The stock pjsua2-python wheel
 *      keeps pjsua's defaults (4 calls, a select() ioqueue of 64 sockets),
 *      which caps a node at 4 calls (DESIGN.md, "Nodes").
 *   2. surface: everything the engine does not use is compiled out, so it
 *      cannot be reached by a peer (no sound device, no video, no TLS, no
 *      SRTP, only G.711 and G.722 plus telephone-event).
 * configure flags (--enable-epoll, --disable-video, --disable-ssl, ...) are
 * set by the script; the macros below repeat what matters so a build whose
 * configure lacks a flag still gets the intended result.
 */

/* ---- Capacity -------------------------------------------------------- */

/* Concurrent calls per process. The engine asks for 1024 (ua.maxCalls in
 * sip/endpoint.py); pjsua clamps to this. */
#define PJSUA_MAX_CALLS                 1024

/* Sockets per ioqueue. Each call holds an RTP and an RTCP socket, plus the
 * SIP transports and TCP connections. Needs the epoll ioqueue
 * (--enable-epoll): select() is limited by FD_SETSIZE (1024). The process
 * also needs RLIMIT_NOFILE above about 2 * calls + 100. */
#define PJ_IOQUEUE_MAX_HANDLES          8192

/* Conference bridge slots: every call leg is a port, and so are the
 * engine's own per-call media ports, players, recorders and taps
 * (about two per call). */
#define PJSUA_MAX_CONF_PORTS            2048

/* File players/recorders pjsua can hold open at once: at most one each per
 * call is planned (prompts, per-call recording). */
#define PJSUA_MAX_PLAYERS               1024
#define PJSUA_MAX_RECORDERS             1024

/* SIP transaction and dialog tables (hash table sizes, 2^n - 1). pjsua's
 * defaults (1023 / 511) are too small for 1024 calls in re-INVITE or
 * transfer storms. */
#define PJSIP_MAX_TSX_COUNT             (16 * 1024 - 1)
#define PJSIP_MAX_DIALOG_COUNT          (4 * 1024 - 1)

/* Pending TCP connections on a listening SIP/TCP transport (default 5). */
#define PJSIP_TCP_TRANSPORT_BACKLOG     64

/* ---- Surface: no sound device, no video ------------------------------- */

/* A server has no sound card: the engine uses pjsua's null device. */
#define PJMEDIA_AUDIO_DEV_HAS_ALSA      0
#define PJMEDIA_AUDIO_DEV_HAS_PORTAUDIO 0
#define PJMEDIA_AUDIO_DEV_HAS_OBOE      0
#define PJMEDIA_AUDIO_DEV_HAS_OPENSL    0
#define PJMEDIA_AUDIO_DEV_HAS_WMME      0
#define PJMEDIA_HAS_VIDEO               0

/* ---- Surface: codecs ---------------------------------------------------- */

/* Only what the engine offers: PCMU, PCMA, G.722 (sip/endpoint.py
 * CODEC_IDS), plus RFC 4733 telephone-event for DTMF, which pjmedia keeps
 * on by default (PJMEDIA_RTP_PT_TELEPHONE_EVENTS). */
#define PJMEDIA_HAS_G711_CODEC          1
#define PJMEDIA_HAS_G722_CODEC          1
#define PJMEDIA_HAS_L16_CODEC           0
#define PJMEDIA_HAS_GSM_CODEC           0
#define PJMEDIA_HAS_SPEEX_CODEC         0
#define PJMEDIA_HAS_ILBC_CODEC          0
#define PJMEDIA_HAS_G7221_CODEC         0
#define PJMEDIA_HAS_OPENCORE_AMRNB_CODEC 0
#define PJMEDIA_HAS_OPENCORE_AMRWB_CODEC 0
#define PJMEDIA_HAS_SILK_CODEC          0
#define PJMEDIA_HAS_OPUS_CODEC          0
#define PJMEDIA_HAS_BCG729              0
#define PJMEDIA_HAS_PASSTHROUGH_CODECS  0

/* No acoustic echo on a trunk (the engine sets ecTailLen = 0). */
#define PJMEDIA_HAS_SPEEX_AEC           0
#define PJMEDIA_HAS_WEBRTC_AEC          0
#define PJMEDIA_HAS_WEBRTC_AEC3         0

/* ---- Surface: transports and NAT traversal ----------------------------- */

/* No SRTP: the engine offers plain RTP behind the SIP edge. */
#define PJMEDIA_HAS_SRTP                0

/* No TLS (also --disable-ssl). */
#define PJ_HAS_SSL_SOCK                 0
#define PJSIP_HAS_TLS_TRANSPORT         0

/* ICE/STUN/TURN: pjnath stays linked (pjsua needs it) but is only used when
 * an account enables ICE/TURN or a STUN server is configured; the engine
 * does neither. Don't advertise ICE support in Contact either. */
#define PJSUA_ADD_ICE_TAGS              0
