"""The two ways in: DataForSEO (``/v3/...``, Basic auth, array of tasks) and AIsa
(``/apis/v1/dataforseo/...``, Bearer key, one task object or a one-element array).

Routing, credentials and the body shape live here; everything after that is gateway-blind.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson

from .config import SimulatorConfig
from .registry import Endpoint


class Gateway(str, Enum):
    DATAFORSEO = "dataforseo"
    AISA = "aisa"


PREFIXES: tuple[tuple[str, Gateway], ...] = (
    ("/v3/", Gateway.DATAFORSEO),
    ("/apis/v1/dataforseo/", Gateway.AISA),
)


class RequestError(Exception):
    """A problem with the request as a whole: answered with a top-level status code."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or str(code))
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Route:
    gateway: Gateway
    endpoint: Endpoint
    path_value: str | None = None


class Router:
    """Finds the endpoint of a request path on either gateway."""

    def __init__(self, endpoints: Mapping[str, Endpoint]) -> None:
        self._plain = {name: ep for name, ep in endpoints.items() if ep.path_param is None}
        self._param = {name: ep for name, ep in endpoints.items() if ep.path_param is not None}

    def resolve(self, method: str, path: str) -> Route | None:
        for prefix, gateway in PREFIXES:
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix):].rstrip("/")
            endpoint = self._plain.get(rest)
            value: str | None = None
            if endpoint is None:
                head, _, value = rest.rpartition("/")
                endpoint = self._param.get(head) if value else None
            if endpoint is None or endpoint.method != method:
                return None
            return Route(gateway, endpoint, value)
        return None


def authorized(gateway: Gateway, header: str | None, config: SimulatorConfig) -> bool:
    """Whether the ``Authorization`` header carries this simulator's credentials for ``gateway``."""
    if not header:
        return False
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if gateway is Gateway.AISA:
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials, config.api_key)
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    login, sep, password = decoded.partition(":")
    return bool(sep) and hmac.compare_digest(login, config.login) and hmac.compare_digest(password, config.password)


def parse_tasks(raw: bytes, gateway: Gateway) -> list[Any]:
    """The tasks of a POST body, or :class:`RequestError` (40502 empty, 40503 invalid).

    DataForSEO takes a JSON array of tasks, or the index-keyed object its own PHP/Python
    examples send (``{"0": {...}}``). AIsa takes one task object or an array.
    """
    if not raw.strip():
        raise RequestError(40502)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RequestError(40503, "POST Data Is Invalid: the body is not valid JSON.") from None
    if isinstance(body, list):
        tasks = body
    elif isinstance(body, dict) and gateway is Gateway.AISA:
        tasks = [body] if body else []
    elif isinstance(body, dict) and all(isinstance(k, str) and k.isdigit() for k in body):
        tasks = [body[k] for k in sorted(body, key=int)]
    else:
        raise RequestError(40503, "POST Data Is Invalid: expected an array of tasks.")
    if not tasks:
        raise RequestError(40502)
    return tasks
