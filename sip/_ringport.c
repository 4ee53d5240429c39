/*
 * Ring ports: pjmedia conference ports whose frames never touch Python on
 * pjmedia's clock thread.
 *
 * A dense node runs hundreds of call legs in one conference bridge. A port
 * whose put_frame/get_frame call up into Python takes the GIL hundreds of
 * times per 20 ms tick, and the clock thread (which also sends every RTP
 * packet) then waits on whatever Python thread holds it. A ring port's
 * callbacks only copy bytes into or out of single-producer/single-consumer
 * rings; a Python pump thread moves the audio of every leg in one pass per
 * tick (sip/media_pump.py). The clock thread never takes the GIL.
 *
 * Layout: a ring port is one allocation. It starts with room for the
 * pjmedia_port struct (filled in by sip/ring_port.py through pjmedia's own
 * pjmedia_port_info_init, with this file's callbacks stored at the offsets
 * pjmedia itself reports), so the pjmedia_port pointer the bridge passes is
 * the ring port. pjmedia_frame is declared here: its layout (type, buf,
 * size, timestamp, bit_info) is the same in every pjproject release since
 * 2.0.
 *
 * This file does not include pjproject headers and links against nothing:
 * the same library serves the stock wheel and a self-built pjproject.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PORT_BYTES 256 /* room for any release's pjmedia_port (2.15: 120) */
#define FRAME_TYPE_NONE 0
#define FRAME_TYPE_AUDIO 1

typedef struct {
    int type;
    void *buf;
    size_t size;
    uint64_t timestamp;
    uint32_t bit_info;
} pj_frame;

/* One direction of audio: whole frames, one producer, one consumer. */
typedef struct {
    _Atomic uint64_t head;     /* frames written, by the producer */
    _Atomic uint64_t tail;     /* frames read, by the consumer */
    _Atomic uint64_t flush_to; /* producer asks the consumer to skip to here */
    _Atomic uint64_t dropped;  /* frames the producer found no room for */
    uint32_t frame_bytes;
    uint32_t capacity; /* frames */
    uint8_t *data;
} ring;

typedef struct {
    uint8_t pj_port[PORT_BYTES]; /* must stay first: pjmedia passes &pj_port */
    ring rx;                     /* what the bridge puts: clock -> Python */
    ring tx;                     /* what the bridge gets: Python -> clock */
    _Atomic int rx_enabled; /* 0: put_frame discards (nobody reads rx) */
    _Atomic int tx_enabled; /* 0: get_frame says "no audio" */
} ring_port;

static int ring_init(ring *r, uint32_t frame_bytes, uint32_t capacity)
{
    r->frame_bytes = frame_bytes;
    r->capacity = capacity;
    r->data = calloc(capacity, frame_bytes);
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->flush_to, 0);
    atomic_init(&r->dropped, 0);
    return r->data != NULL;
}

/* Producer: append one frame (or silence for src == NULL); drop it if full. */
static void ring_push(ring *r, const uint8_t *src)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - tail >= r->capacity) {
        atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
        return;
    }
    uint8_t *slot = r->data + (head % r->capacity) * r->frame_bytes;
    if (src)
        memcpy(slot, src, r->frame_bytes);
    else
        memset(slot, 0, r->frame_bytes);
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

/* Consumer: copy one frame out; 0 if the ring is empty. */
static int ring_pop(ring *r, uint8_t *dst)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t flush_to = atomic_load_explicit(&r->flush_to, memory_order_acquire);
    if (flush_to > tail)
        tail = flush_to;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (tail >= head) {
        atomic_store_explicit(&r->tail, tail, memory_order_release);
        return 0;
    }
    memcpy(dst, r->data + (tail % r->capacity) * r->frame_bytes, r->frame_bytes);
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return 1;
}

/* -- pjmedia callbacks (clock thread) ------------------------------------ */

/* The OS id of the thread that last started calling the callbacks: the
 * bridge's clock thread, which Python may give real-time priority (pjlib
 * 2.12 does not name its threads, so this is the one way to find it). */
static _Atomic long clock_tid = 0;
static __thread int clock_tid_noted = 0;

static inline void note_clock_thread(void)
{
    if (!clock_tid_noted) {
        clock_tid_noted = 1;
        atomic_store(&clock_tid, (long)syscall(SYS_gettid));
    }
}

long ringport_clock_tid(void) { return atomic_load(&clock_tid); }

int ringport_put_frame(void *port, pj_frame *frame)
{
    ring_port *p = (ring_port *)port;
    note_clock_thread();
    if (!atomic_load_explicit(&p->rx_enabled, memory_order_relaxed))
        return 0;
    if (frame->type == FRAME_TYPE_AUDIO && frame->size == p->rx.frame_bytes && frame->buf)
        ring_push(&p->rx, (const uint8_t *)frame->buf);
    else
        ring_push(&p->rx, NULL); /* no audio this tick: keep the timeline */
    return 0;
}

int ringport_get_frame(void *port, pj_frame *frame)
{
    ring_port *p = (ring_port *)port;
    if (atomic_load_explicit(&p->tx_enabled, memory_order_relaxed) && frame->buf &&
        frame->size >= p->tx.frame_bytes && ring_pop(&p->tx, (uint8_t *)frame->buf)) {
        frame->type = FRAME_TYPE_AUDIO;
        frame->size = p->tx.frame_bytes;
        return 0;
    }
    frame->type = FRAME_TYPE_NONE;
    frame->size = 0;
    return 0;
}

/* pjmedia 2.15's bridge wants an on_destroy: the port's memory is never
 * freed (ports are pooled for the node's life), so there is nothing to do. */
int ringport_on_destroy(void *port)
{
    (void)port;
    return 0;
}

/* -- Python side (ctypes) ------------------------------------------------- */

void *ringport_new(uint32_t frame_bytes, uint32_t rx_frames, uint32_t tx_frames)
{
    ring_port *p = calloc(1, sizeof(ring_port));
    if (!p)
        return NULL;
    if (!ring_init(&p->rx, frame_bytes, rx_frames) || !ring_init(&p->tx, frame_bytes, tx_frames)) {
        free(p->rx.data);
        free(p->tx.data);
        free(p);
        return NULL;
    }
    atomic_init(&p->rx_enabled, 0);
    atomic_init(&p->tx_enabled, 0);
    return p;
}

int ringport_port_bytes(void) { return PORT_BYTES; }

void ringport_enable(void *port, int rx, int tx)
{
    ring_port *p = (ring_port *)port;
    atomic_store(&p->rx_enabled, rx);
    atomic_store(&p->tx_enabled, tx);
}

/* Consumer of rx: copy up to max_frames whole frames into dst; returns how many. */
uint32_t ringport_read(void *port, uint8_t *dst, uint32_t max_frames)
{
    ring_port *p = (ring_port *)port;
    uint32_t n = 0;
    while (n < max_frames && ring_pop(&p->rx, dst + (size_t)n * p->rx.frame_bytes))
        n++;
    return n;
}

/* Frames waiting in rx (read by Python) or tx (played by the clock). */
uint32_t ringport_rx_count(void *port)
{
    ring_port *p = (ring_port *)port;
    return (uint32_t)(atomic_load(&p->rx.head) - atomic_load(&p->rx.tail));
}

uint32_t ringport_tx_count(void *port)
{
    ring_port *p = (ring_port *)port;
    uint64_t head = atomic_load(&p->tx.head);
    uint64_t tail = atomic_load(&p->tx.tail);
    uint64_t flush_to = atomic_load(&p->tx.flush_to);
    if (flush_to > tail)
        tail = flush_to;
    return head > tail ? (uint32_t)(head - tail) : 0;
}

/* Producer of tx: append n_frames whole frames from src; returns how many fit. */
uint32_t ringport_write(void *port, const uint8_t *src, uint32_t n_frames)
{
    ring_port *p = (ring_port *)port;
    uint32_t n = 0;
    for (; n < n_frames; n++) {
        uint64_t head = atomic_load(&p->tx.head), tail = atomic_load(&p->tx.tail);
        if (head - tail >= p->tx.capacity)
            break;
        ring_push(&p->tx, src + (size_t)n * p->tx.frame_bytes);
    }
    return n;
}

/* Producer of tx: drop everything queued (barge-in); the clock skips it. */
void ringport_flush_tx(void *port)
{
    ring_port *p = (ring_port *)port;
    atomic_store_explicit(&p->tx.flush_to, atomic_load(&p->tx.head), memory_order_release);
}

/* Frames dropped for want of room: [rx (Python fell behind), tx]. */
void ringport_counters(void *port, uint64_t *out)
{
    ring_port *p = (ring_port *)port;
    out[0] = atomic_load(&p->rx.dropped);
    out[1] = atomic_load(&p->tx.dropped);
}

/* An importable module, so that Python can find this library's path. */
static struct PyModuleDef ringport_module = {
    PyModuleDef_HEAD_INIT, "_ringport",
    "Ring ports for pjmedia's conference bridge; used through ctypes (sip/ring_port.py).",
    -1, NULL,
};

PyMODINIT_FUNC PyInit__ringport(void) { return PyModule_Create(&ringport_module); }
