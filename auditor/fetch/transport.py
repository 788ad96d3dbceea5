"""The seam between the client logic and the network.

Everything above this module talks to a :class:`Transport`: ``send(HttpRequest) -> HttpResponse``.
:class:`AiohttpTransport` is the one real implementation; it is the only place where aiohttp and
socket exceptions exist, and it translates every one of them into
:class:`auditor.errors.TransportError` (retryable). Messages name the method and endpoint path,
never the headers, so credentials cannot leak through an error or a traceback.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from auditor.errors import TransportError
from auditor.protocol.gateways import HttpRequest


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes


class Transport(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse: ...


class AiohttpTransport:
    """One shared :class:`aiohttp.ClientSession` for the whole run.

    ``timeout_s`` bounds a whole request (connect, send, wait, read); a request that hangs is
    abandoned after it and counts as a retryable failure.
    """

    def __init__(self, *, timeout_s: float = 120.0, connect_timeout_s: float = 15.0,
                 max_connections: int = 64) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "AiohttpTransport":
        connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=True,
            headers={"User-Agent": "auditor/0.1 (+backlink auditor)", "Accept-Encoding": "gzip, deflate"},
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, request: HttpRequest) -> HttpResponse:
        if self._session is None:
            raise RuntimeError("AiohttpTransport used outside 'async with'")
        where = f"{request.method} {request.path}"
        try:
            async with self._session.request(
                request.method, request.url, data=request.body, headers=request.headers
            ) as response:
                body = await response.read()
                return HttpResponse(response.status, body)
        except asyncio.TimeoutError:
            raise TransportError(f"timed out after {self._timeout.total:g}s on {where}") from None
        except aiohttp.ClientPayloadError:
            raise TransportError(f"truncated response body on {where}") from None
        except (aiohttp.ClientError, OSError) as exc:
            # The class name says what happened (reset, refused, disconnected); the message of
            # a ClientResponseError could carry request headers, so it is not repeated.
            raise TransportError(f"{type(exc).__name__} on {where}") from None
