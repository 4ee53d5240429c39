"""The CLI's side of the control API: requests, and errors worded for people.

    client = ApiClient("http://127.0.0.1:8480", token)
    agents = client.get("/v1/agents")          # parsed JSON; ApiError otherwise

An :class:`ApiError` says what to do about it: no engine at the URL, a bad
token (401), a role that may not (403), no such call (404), and so on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

TIMEOUT_S = 10.0


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
        if not self.token:
            raise ApiError("no API token: give --token or set CALLCENTER_TOKEN "
                           "(`callcenter users add NAME --role ROLE` makes one)")
        import httpx  # here: every other command of the CLI starts without it

        url = self.base_url + path
        try:
            response = httpx.request(method, url, json=body,
                                     headers={"Authorization": f"Bearer {self.token}"},
                                     timeout=timeout or self.timeout)
        except httpx.ConnectError:
            raise ApiError(f"no engine answers at {self.base_url}: is `callcenter serve` "
                           "running there, with api.enabled?") from None
        except httpx.TimeoutException:
            raise ApiError(f"the engine at {self.base_url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ApiError(f"request to {url} failed: {exc}") from None
        if response.status_code >= 400:
            raise ApiError(_problem(response), response.status_code)
        return response.json() if response.content else None


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
