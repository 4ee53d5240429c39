"""A transfer by REFER as the caller hears it: ringback while it is pending,
then the outcome; and no REFER at all without a URI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from callcenter.acd_sounds import RINGBACK_HZ, RINGBACK_OFF_S, RINGBACK_ON_S
from callcenter.conversation import CallConversation
from dialog.ports import TransferTarget
from tests.support.fake_call import FakeCall, conversation_on_a_fake_call

RATE = 8000
FRONT_DESK = TransferTarget(queue="front-desk", uri="sip:front-desk@pbx.example.com:5060")


@pytest.fixture
async def talk() -> AsyncIterator[tuple[CallConversation, FakeCall]]:
    async with conversation_on_a_fake_call(RATE, 0.3) as both:
        yield both


def _strongest_hz(pcm: bytes) -> set[float]:
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    hz = np.fft.rfftfreq(len(samples), 1 / RATE)
    return {round(float(f), -1) for f in hz[np.argsort(spectrum)[-2:]]}


async def test_the_caller_hears_ringback_until_the_refer_fails(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, call = talk
    ring_s = RINGBACK_ON_S + RINGBACK_OFF_S
    transfer = asyncio.create_task(conversation.transfer(FRONT_DESK))
    await asyncio.sleep(ring_s * 1.5)
    assert call.refers == [FRONT_DESK.uri] and not transfer.done()
    assert len(call.played) == 2  # ringing, a second ring under way: never silence
    assert _strongest_hz(call.played[0]) == set(RINGBACK_HZ)
    call.refer_outcome.set_result(603)
    assert await asyncio.wait_for(transfer, 1) is False
    assert not call.playing  # the ringback stopped with the answer


async def test_a_refer_the_peer_accepts_is_a_transfer(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, call = talk
    transfer = asyncio.create_task(conversation.transfer(FRONT_DESK))
    await asyncio.sleep(0.1)
    call.refer_outcome.set_result(200)
    assert await asyncio.wait_for(transfer, 1) is True


async def test_a_hang_up_while_the_refer_is_pending_ends_the_call(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, call = talk
    transfer = asyncio.create_task(conversation.transfer(FRONT_DESK))
    await asyncio.sleep(0.1)
    call.hang_up()
    assert await asyncio.wait_for(transfer, 1) is True  # the caller is gone: handed over


async def test_without_a_uri_nothing_is_sent_and_the_transfer_fails_at_once(
        talk: tuple[CallConversation, FakeCall]) -> None:
    conversation, call = talk
    result = await asyncio.wait_for(conversation.transfer(TransferTarget(queue="front-desk")),
                                    0.5)
    assert result is False and call.refers == [] and call.played == []

