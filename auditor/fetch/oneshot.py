"""A light transport for the first, free call of a run (``appendix/user_data``).

:class:`BlockingTransport` sends through the standard library's ``http.client`` on a worker
thread. It exists so that the credentials check can leave the process before aiohttp (a quarter
of a second to import), pyarrow and numpy have loaded: see :mod:`auditor.jobs.preflight`. It
opens one connection per request and keeps nothing, so it is meant for a handful of calls, not
for a run's traffic (:class:`auditor.fetch.transport.AiohttpTransport`).

Like the aiohttp transport, it turns every network failure into a retryable
:class:`auditor.errors.TransportError` whose message names the method and the endpoint path,
never the headers.
"""

from __future__ import annotations

import http.client
import socket
from typing import NamedTuple
from urllib.parse import urlsplit

import anyio

from auditor.errors import TransportError
from auditor.protocol.gateways import HttpRequest

USER_AGENT = "auditor/0.1 (+backlink auditor)"


class Response(NamedTuple):
    """What :class:`auditor.fetch.transport.HttpResponse` holds (that module imports aiohttp)."""

    status: int
    body: bytes


class BlockingTransport:
    """``send(HttpRequest) -> HttpResponse`` over ``http.client``, on a worker thread."""

    def __init__(self, *, timeout_s: float = 120.0) -> None:
        self.timeout_s = timeout_s

    async def send(self, request: HttpRequest) -> Response:
        return await anyio.to_thread.run_sync(self._send, request, abandon_on_cancel=True)

    def _send(self, request: HttpRequest) -> Response:
        where = f"{request.method} {request.path}"
        parts = urlsplit(request.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if parts.scheme == "https":
            import ssl
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.timeout_s, context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout_s)
        try:
            connection.request(request.method, target or "/", body=request.body,
                               headers={"User-Agent": USER_AGENT, **request.headers})
            response = connection.getresponse()
            return Response(response.status, response.read())
        except (socket.timeout, TimeoutError):
            raise TransportError(f"timed out after {self.timeout_s:g}s on {where}") from None
        except http.client.IncompleteRead:
            raise TransportError(f"truncated response body on {where}") from None
        except (http.client.HTTPException, OSError) as exc:
            raise TransportError(f"{type(exc).__name__} on {where}") from None
        finally:
            connection.close()
