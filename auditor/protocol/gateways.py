"""The ways in to the API (gateways), and how a request is shaped for each. Sans-I/O.

| gateway    | default base                    | auth                      | endpoint path          | body            |
|------------|---------------------------------|---------------------------|------------------------|-----------------|
| dataforseo | https://api.dataforseo.com      | Basic login:password      | /v3/<endpoint>         | array of tasks  |
| sandbox    | https://sandbox.dataforseo.com  | Basic login:password      | /v3/<endpoint>         | array of tasks  |
| aisa       | https://api.aisa.one/apis/v1    | Bearer api key            | /dataforseo/<endpoint> | one task object |

AIsa's body shape is uncertain (its page shows an object, public callers send a one-element
array), so it is a per-connection setting (``body_shape``) rather than a constant.
Credentials come from the environment only, and :class:`Credentials` never shows them in a repr.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Literal, Mapping

import orjson

from auditor.errors import ConfigError

BodyShape = Literal["array", "object"]


@dataclass(frozen=True, slots=True)
class Gateway:
    """A way in to the API, described as data."""

    name: str
    default_base_url: str
    path_prefix: str
    auth: Literal["basic", "bearer"]
    body_shape: BodyShape


GATEWAYS: dict[str, Gateway] = {
    "dataforseo": Gateway("dataforseo", "https://api.dataforseo.com", "/v3", "basic", "array"),
    "sandbox": Gateway("sandbox", "https://sandbox.dataforseo.com", "/v3", "basic", "array"),
    "aisa": Gateway("aisa", "https://api.aisa.one/apis/v1", "/dataforseo", "bearer", "object"),
}

#: Credentials the bundled simulator accepts by default.
SIMULATOR_CREDENTIALS = {"DATAFORSEO_LOGIN": "demo", "DATAFORSEO_PASSWORD": "demo", "AISA_API_KEY": "demo"}


@dataclass(frozen=True, slots=True)
class Credentials:
    """A ready ``Authorization`` header value. Its repr hides the secret."""

    authorization: str = field(repr=False)
    who: str = ""  # login (or "api key"), safe to show

    def __repr__(self) -> str:
        return f"Credentials(who={self.who!r}, authorization='***')"


def credentials_from_env(gateway: Gateway, env: Mapping[str, str] | None = None) -> Credentials:
    """Read the credentials ``gateway`` needs from the environment, or raise :class:`ConfigError`."""
    env = os.environ if env is None else env
    if gateway.auth == "bearer":
        key = env.get("AISA_API_KEY", "")
        if not key:
            raise ConfigError("the aisa gateway needs AISA_API_KEY in the environment")
        return Credentials(f"Bearer {key}", "api key")
    login, password = env.get("DATAFORSEO_LOGIN", ""), env.get("DATAFORSEO_PASSWORD", "")
    if not login or not password:
        raise ConfigError(
            f"the {gateway.name} gateway needs DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD in the environment"
        )
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    return Credentials(f"Basic {token}", login)


@dataclass(frozen=True, slots=True)
class Connection:
    """Where and how to send: a gateway, its base URL, credentials and body shape."""

    gateway: Gateway
    base_url: str
    credentials: Credentials
    body_shape: BodyShape

    @classmethod
    def create(
        cls,
        gateway: str,
        credentials: Credentials,
        base_url: str | None = None,
        body_shape: BodyShape | None = None,
    ) -> "Connection":
        if gateway not in GATEWAYS:
            raise ConfigError(f"unknown gateway {gateway!r}; expected one of {', '.join(GATEWAYS)}")
        gw = GATEWAYS[gateway]
        return cls(gw, (base_url or gw.default_base_url).rstrip("/"), credentials, body_shape or gw.body_shape)

    def url(self, endpoint_path: str) -> str:
        """Full URL of ``endpoint_path`` (e.g. ``backlinks/index``)."""
        return f"{self.base_url}{self.gateway.path_prefix}/{endpoint_path}"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """Everything the transport needs to send one request. Headers are hidden from repr."""

    method: Literal["GET", "POST"]
    url: str
    path: str  # the endpoint path, for logs and errors (no host, no credentials)
    headers: dict[str, str] = field(repr=False)
    body: bytes | None = field(default=None, repr=False)


def build_request(conn: Connection, method: Literal["GET", "POST"], endpoint_path: str,
                  tasks: list[dict] | None = None) -> HttpRequest:
    """Shape a request for ``conn``: auth header, URL, and the tasks as the gateway wants them."""
    headers = {"Authorization": conn.credentials.authorization}
    body = None
    if method == "POST":
        tasks = tasks or []
        payload: object = tasks[0] if conn.body_shape == "object" and len(tasks) == 1 else tasks
        body = orjson.dumps(payload)
        headers["Content-Type"] = "application/json"
    return HttpRequest(method, conn.url(endpoint_path), endpoint_path, headers, body)
