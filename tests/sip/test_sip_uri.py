from __future__ import annotations

from callcenter.core.settings import TrunkSettings
from sip.sip_uri import host_of, request_uri_user, trunk_target


def test_request_uri_user() -> None:
    assert request_uri_user("sip:100@127.0.0.1:5060") == "100"
    assert request_uri_user("<sip:+15551234@pbx;user=phone>") == "+15551234"
    assert request_uri_user("sip:%2B1555@pbx") == "+1555"
    assert request_uri_user("tel:+1555") == "+1555"
    assert request_uri_user("garbage") == ""


def test_host_of() -> None:
    assert host_of("sip:100@127.0.0.1:5060;transport=tcp") == "127.0.0.1"
    assert host_of("sip:pbx.example") == "pbx.example"
    assert host_of("sip:alice@[::1]:5060") == "::1"


def test_trunk_target() -> None:
    trunk = TrunkSettings(name="p", registrar="sip:sip.example.net:5080;transport=tcp")
    assert trunk_target("+15551234", trunk) == "sip:+15551234@sip.example.net:5080"
    assert trunk_target("sip:x@y", trunk) == "sip:x@y"
