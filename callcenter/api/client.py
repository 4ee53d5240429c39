"""The CLI's side of the control API: requests, and errors worded for people.

    client = ApiClient("http://127.0.0.1:8480", token)
    agents = client.get("/v1/agents")          # parsed JSON; ApiError otherwise
    for event in client.events("calls/+/queue"):   # the live stream, one dict per event
        ...

An :class:`ApiError` says what to do about it: no engine at the URL, a bad
token (401), a role that may not (403), no such call (404), and so on.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

TIMEOUT_S = 10.0

# httpx logs every request at INFO: noise in a command's table or JSON.
logging.getLogger("httpx").setLevel(logging.WARNING)


class ApiError(Exception):
    """The request failed; the message is meant for the person at the CLI."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiClient:
    """Blocking JSON requests to one node's API with one bearer token."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float = TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def get(self, path: str) -> Any:
        """GET `path`: the parsed JSON answer."""
        return self.request("GET", path)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                timeout: float | None = None) -> Any:
        """`method` `path` with an optional JSON `body`; the parsed JSON answer."""
        import httpx  # here: every other command of the CLI starts without it

        with self._errors(path):
            response = httpx.request(method, self.base_url + path, json=body,
                                     headers=self._headers(), timeout=timeout or self.timeout)
        if response.status_code >= 400:
            raise ApiError(_problem(response), response.status_code)
        return response.json() if response.content else None

    def events(self, topic: str | None = None, *,
               subscribed: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
        """The node's live events (``/v1/events``) as they come, until the engine stops;
        `subscribed` is called once the node has subscribed the stream."""
        import httpx

        params = {"topic": topic} if topic else {}
        # No read timeout: the stream may be idle (the server pings every 15 s).
        timeout = httpx.Timeout(self.timeout, read=None)
        with self._errors("/v1/events"), httpx.stream(
                "GET", self.base_url + "/v1/events", params=params, headers=self._headers(),
                timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise ApiError(_problem(response), response.status_code)
            for line in response.iter_lines():
                if line.startswith("data: "):
                    yield dict(json.loads(line[6:]))
                elif line.startswith(": subscribed") and subscribed is not None:
                    subscribed()

    def _headers(self) -> dict[str, str]:
        if not self.token:
            raise ApiError("no API token: give --token or set CALLCENTER_TOKEN "
                           "(`callcenter users add NAME --role ROLE` makes one)")
        return {"Authorization": f"Bearer {self.token}"}

    @contextlib.contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        """httpx's errors as ApiErrors that say what to check."""
        import httpx

        try:
            yield
        except httpx.ConnectError:
            raise ApiError(f"no engine answers at {self.base_url}: is `callcenter serve` "
                           "running there, with api.enabled?") from None
        except httpx.TimeoutException:
            raise ApiError(f"the engine at {self.base_url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ApiError(f"request to {self.base_url + path} failed: {exc}") from None


def _problem(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if not isinstance(detail, str):
        detail = response.text[:200] if detail is None else str(detail)
    hint = {401: " (check --token or CALLCENTER_TOKEN)",
            403: " (ask an admin for a user with that role)"}.get(response.status_code, "")
    return f"{response.status_code}: {detail}{hint}"
