"""The thread hand-off of audio, driven from real threads."""

from __future__ import annotations

import asyncio
import threading
import time

from sip.audio_buffers import FrameInbox, FrameOutbox


async def test_outbox_pads_with_silence_and_reports_completion() -> None:
    outbox = FrameOutbox(asyncio.get_running_loop(), frame_bytes=4)
    assert outbox.pull() == bytes(4)
    done = outbox.queue(b"\x01\x02\x03\x04\x05\x06")
    assert outbox.pull() == b"\x01\x02\x03\x04"
    assert not done.done()
    assert outbox.pull() == b"\x05\x06\x00\x00"
    assert await asyncio.wait_for(done, 1) is True
    assert not outbox.busy


async def test_outbox_clear_stops_at_once() -> None:
    outbox = FrameOutbox(asyncio.get_running_loop(), frame_bytes=4)
    first, second = outbox.queue(b"\x01" * 40), outbox.queue(b"\x02" * 40)
    outbox.pull()
    outbox.clear()
    assert outbox.pull() == bytes(4)
    assert await first is False and await second is False


async def test_outbox_segments_join_without_gaps() -> None:
    outbox = FrameOutbox(asyncio.get_running_loop(), frame_bytes=4)
    outbox.queue(b"\x01\x01")
    outbox.queue(b"\x02\x02\x02\x02")
    assert outbox.pull() == b"\x01\x01\x02\x02"
    assert outbox.pull() == b"\x02\x02\x00\x00"


async def test_outbox_feeds_frames_in_one_write_and_clear_reaches_the_ring() -> None:
    outbox = FrameOutbox(asyncio.get_running_loop(), frame_bytes=4)
    ring: list[bytes] = []  # stands in for a ring port's tx ring
    outbox.on_clear = ring.clear
    done = outbox.queue(b"\x01" * 10)
    outbox.feed(5, ring.append)
    assert ring == [b"\x01" * 10 + b"\x00\x00"]  # three frames, the last padded
    assert await asyncio.wait_for(done, 1) is True
    outbox.queue(b"\x02" * 40)
    outbox.feed(2, ring.append)
    outbox.clear()  # barge-in: the frames already handed over go too
    assert ring == [] and not outbox.busy


async def test_outbox_clear_waits_for_a_feed_under_way() -> None:
    loop = asyncio.get_running_loop()
    outbox = FrameOutbox(loop, frame_bytes=4)
    ring: list[bytes] = []
    outbox.on_clear = ring.clear
    outbox.queue(b"\x03" * 400)
    writing = threading.Event()

    def slow_write(frames: bytes) -> None:
        writing.set()
        time.sleep(0.1)  # a clear arriving now must not be overtaken
        ring.append(frames)

    feeder = loop.run_in_executor(None, outbox.feed, 5, slow_write)
    await asyncio.to_thread(writing.wait, 1)
    outbox.clear()
    await feeder
    assert ring == []


async def test_inbox_delivers_frames_from_another_thread_in_order() -> None:
    inbox = FrameInbox(asyncio.get_running_loop())
    received: list[bytes] = []

    async def consume() -> None:
        async for frame in inbox.frames():
            received.append(frame)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)  # start listening

    def produce() -> None:
        for i in range(300):
            inbox.put(i.to_bytes(2, "little"))

    await asyncio.to_thread(produce)
    await asyncio.sleep(0.05)
    inbox.close()
    await asyncio.wait_for(consumer, 2)
    assert [int.from_bytes(f, "little") for f in received] == list(range(300))


async def test_inbox_ignores_frames_nobody_listens_to_and_drops_oldest() -> None:
    inbox = FrameInbox(asyncio.get_running_loop(), max_frames=10)
    inbox.put(b"x")  # not listening: discarded
    inbox.listening = True
    for i in range(25):
        inbox.put(bytes([i]))
    assert inbox.dropped == 15
    inbox.close()
    got = [f async for f in inbox.frames()]
    assert got == [bytes([i]) for i in range(15, 25)]
