"""Small SIP URI helpers: user parts and trunk targets."""

from __future__ import annotations

import re
from urllib.parse import unquote

from callcenter.core.settings import TrunkSettings

_USER = re.compile(r"^<?(?:sips?|tel):(?P<user>[^@;>?]*)")

def request_uri_user(uri: str) -> str:
    """The user part of a SIP URI (``sip:1001@host`` → ``1001``), unescaped."""

    match = _USER.match(uri.strip())
    return unquote(match.group("user")) if match else ""

def trunk_target(number_or_uri: str, trunk: TrunkSettings) -> str:
    """A URI for `number_or_uri` through `trunk`: a bare number gets the
    registrar's domain (``+15551234`` → ``sip:+15551234@provider``)."""
    if number_or_uri.startswith(("sip:", "sips:", "tel:")):
        return number_or_uri
    host = trunk.registrar.split(":", 1)[-1].split(";", 1)[0]
    return f"sip:{number_or_uri}@{host}"

def host_of(uri: str) -> str:
    """The host of a SIP URI (``sip:100@127.0.0.1:5060;transport=tcp`` → ``127.0.0.1``)."""
    rest = uri.split(":", 1)[-1].split(";", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.split(":", 1)[0].strip(">")
