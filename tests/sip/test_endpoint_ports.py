"""Opening UDP and TCP on one SIP port, when port 0 lets the system choose."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pjsua2 as pj
import pytest

from callcenter.core.errors import SettingsError
from callcenter.core.settings import SipSettings
from sip.endpoint import PORT_ZERO_ATTEMPTS, _open_transports


@dataclass
class _Transports:
    """pjsua2's transport calls over a system whose free ports we choose."""

    chosen: Iterator[int]  # what port 0 gets, in turn
    taken_tcp: set[int]  # held by another process for TCP
    open: dict[int, tuple[int, int]] = field(default_factory=dict)  # id → (type, port)
    closed: list[int] = field(default_factory=list)
    created: int = 0  # transportCreate calls

    def transportCreate(self, ttype: int, cfg: Any) -> int:  # noqa: N802 (pjsua2 name)
        self.created += 1
        if cfg.boundAddress == UNASSIGNED:
            error = pj.Error()
            error.reason = "Cannot assign requested address"
            raise error
        port = int(cfg.port) or next(self.chosen)
        if ttype == pj.PJSIP_TRANSPORT_TCP and port in self.taken_tcp:
            error = pj.Error()
            error.reason = "Address already in use"
            raise error
        tid = len(self.open) + len(self.closed)
        self.open[tid] = (ttype, port)
        return tid

    def transportGetInfo(self, tid: int) -> Any:  # noqa: N802 (pjsua2 name)
        return SimpleNamespace(localName=f"127.0.0.1:{self.open[tid][1]}")

    def transportClose(self, tid: int) -> None:  # noqa: N802 (pjsua2 name)
        del self.open[tid]
        self.closed.append(tid)


UNASSIGNED = "192.0.2.1"  # an address of no interface here (TEST-NET-1)


def _settings(port: int, host: str = "127.0.0.1") -> SipSettings:
    return SipSettings.model_validate({"host": host, "port": port,
                                       "transports": ["udp", "tcp"]})


def test_port_zero_chooses_again_when_tcp_holds_the_udp_port() -> None:
    ep = _Transports(chosen=iter([40001, 40002]), taken_tcp={40001})
    assert _open_transports(ep, _settings(0)) == (40002, 40002)
    assert sorted(ep.open.values()) == [(pj.PJSIP_TRANSPORT_UDP, 40002),
                                        (pj.PJSIP_TRANSPORT_TCP, 40002)]
    assert ep.closed == [0]  # the UDP transport on the taken port was let go


def test_port_zero_gives_up_after_a_few_tries_naming_the_setting() -> None:
    ports = range(40001, 40001 + PORT_ZERO_ATTEMPTS)
    ep = _Transports(chosen=iter(ports), taken_tcp=set(ports))
    with pytest.raises(SettingsError, match=r"TCP on 127.0.0.1:4000\d.*sip.port.*in use"):
        _open_transports(ep, _settings(0))
    assert not ep.open


def test_a_configured_port_is_not_changed_behind_the_operators_back() -> None:
    ep = _Transports(chosen=iter([]), taken_tcp={5060})
    with pytest.raises(SettingsError, match="TCP on 127.0.0.1:5060"):
        _open_transports(ep, _settings(5060))
    assert not ep.open and ep.closed == [0]


def test_an_address_that_cannot_be_bound_is_not_tried_again() -> None:
    ep = _Transports(chosen=iter([]), taken_tcp=set())
    with pytest.raises(SettingsError, match="UDP on 192.0.2.1:0.*sip.host"):
        _open_transports(ep, _settings(0, host=UNASSIGNED))
    assert ep.created == 1 and not ep.open
