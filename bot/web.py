"""The web server: one Starlette app whose routes come from the channels; never names a provider."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Generator, Sequence
from urllib.parse import urlsplit

import uvicorn
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from storage.db import describe_error, is_outage

log = logging.getLogger(__name__)
# What a page shows while the database is away (a restart takes seconds): the request can simply be tried again.
TRY_AGAIN = "Vi kan inte ta emot det just nu. Försök igen om en stund. / We cannot take this right now. Try again in a moment."
RETRY_AFTER_SECONDS = 5


HealthReport = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]


async def _always_healthy() -> tuple[bool, dict[str, object]]:
    return True, {"status": "ok"}


async def home(_request: Request) -> Response:
    return RedirectResponse("/chat", status_code=302)


class Gate:
    """Closed while the process stops: whatever would hand it new work (every request but GET and HEAD) is answered 503
    with Retry-After, so Telegram and Twilio deliver it again later, to this process restarted or to another."""

    def __init__(self) -> None:
        self.closed = False
        self.in_flight = 0  # requests let in and not yet answered: the stop waits for them

    def close(self) -> None:
        self.closed = True


class GateMiddleware:
    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if self.gate.closed:
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store", "Connection": "close"}
            await JSONResponse({"error": TRY_AGAIN}, status_code=503, headers=headers)(scope, receive, send)
            return
        self.gate.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.in_flight -= 1


def build_app(routes: Sequence[BaseRoute], health: HealthReport = _always_healthy, gate: Gate | None = None) -> Starlette:
    async def healthz(_request: Request) -> Response:
        # 503 when people cannot be reached (the database is away, a channel is down): monitors and load balancers act on it.
        healthy, body = await health()
        return JSONResponse(body, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})

    return Starlette(routes=[Route("/", home), Route("/healthz", healthz), *routes],
                     exception_handlers={DBAPIError: database_away, PoolTimeout: database_away},
                     middleware=[Middleware(GateMiddleware, gate=gate)] if gate is not None else [])  # fmt: skip


async def database_away(request: Request, error: Exception) -> Response:
    """A request that met a database outage: 503 and "try again in a moment" rather than a 500, logged without content."""
    if not is_outage(error):
        raise error  # a refused query is a bug: Starlette answers 500 and logs it
    log.warning("database unavailable (%s): answered %s %s with 503", describe_error(error), request.method, request.url.path)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    return JSONResponse({"error": TRY_AGAIN}, status_code=503, headers=headers)


def origin_of(url: str) -> str:
    """scheme://host[:port], lower-cased, the default port left out, as a browser writes an Origin header."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    host = (parts.hostname or "").lower()
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket for the web server, bound now, so a busy port is known before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def make_server(app: Starlette, host: str, port: int) -> Server:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
    return Server(config)
