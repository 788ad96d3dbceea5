"""Transport-level misbehaviour: HTTP errors from the front proxy, resets, cut and broken bodies."""

from __future__ import annotations

import contextlib
import socket
import struct

from aiohttp import web

from . import envelope

_PROXY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable"}


def http_error(status: int, version: str) -> web.Response:
    """HTTP 500 comes from the API itself (an envelope with 50000); 502/503 from the proxy in front (HTML)."""
    if status == 500:
        body = envelope.envelope(version, None, elapsed=0.0, status_code=50000)
        return web.Response(status=500, body=envelope.render(body), content_type="application/json")
    page = _PROXY_PAGE.format(status=status, reason=_REASONS.get(status, "Error"))
    return web.Response(status=status, text=page, content_type="text/html")


def reset(request: web.BaseRequest) -> None:
    """Close the connection with a TCP RST (SO_LINGER 0) before any byte of the answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def truncated(request: web.BaseRequest, body: bytes) -> web.StreamResponse:
    """Promise ``len(body)`` bytes, send half of them, then drop the connection."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: max(1, len(body) // 2)])
    reset(request)
    return response


def malformed(body: bytes) -> web.Response:
    """A complete HTTP 200 whose JSON stops in the middle (what a broken upstream sends)."""
    return web.Response(status=200, body=body[: max(1, len(body) * 2 // 3)], content_type="application/json")
