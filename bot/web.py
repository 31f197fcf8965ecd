"""The web server: one Starlette app whose routes come from the channels; never names a provider.

Around every route: no request body larger than MAX_BODY is read (a declared length is refused at once, a
stream is cut off), redirects are paths built here and never from the Host header, and HSTS is sent when the
public URL is https.
"""

from __future__ import annotations

import contextlib
import json
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers.catalogue import Catalogue
from storage.db import describe_error, is_outage

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # the largest thing anyone sends here: a Telegram update, a Twilio form, a dashboard note
HSTS = "max-age=31536000"

# What a page shows while the database is away (a restart takes seconds): the request can simply be tried again.
TRY_AGAIN = "Vi kan inte ta emot det just nu. Försök igen om en stund. / We cannot take this right now. Try again in a moment."
RETRY_AFTER_SECONDS = 5


HealthReport = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]


async def _always_healthy() -> tuple[bool, dict[str, object]]:
    return True, {"status": "ok"}


async def home(_request: Request) -> Response:
    return RedirectResponse("/chat", status_code=302)


async def without_slash(request: Request) -> Response:
    # Starlette's own slash redirect copies the Host header into an absolute URL: a foreign Host would be echoed
    # back as where to go. A path cannot point anywhere but here.
    path = "/" + request.path_params["path"].strip("/")
    return RedirectResponse(path if not path.startswith("//") else "/", status_code=307)


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


def build_app(routes: Sequence[BaseRoute], health: HealthReport = _always_healthy, gate: Gate | None = None, *,
              hsts: bool = False, max_body: int = MAX_BODY) -> Starlette:  # fmt: skip
    async def healthz(_request: Request) -> Response:
        # 503 when people cannot be reached (the database is away, a channel is down): monitors and load balancers act on it.
        healthy, body = await health()
        return JSONResponse(body, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})

    app = Starlette(routes=[Route("/", home), Route("/healthz", healthz), *routes, Route("/{path:path}/", without_slash)],
                    exception_handlers={DBAPIError: database_away, PoolTimeout: database_away},
                    middleware=[Middleware(GateMiddleware, gate=gate)] if gate is not None else [])  # fmt: skip
    app.router.redirect_slashes = False
    app.add_middleware(Guard, max_body=max_body, hsts=hsts)  # outermost: the cap holds before anything reads
    return app


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


class Guard:
    """Caps every request body before the app reads it, and adds HSTS to every answer when asked to."""

    def __init__(self, app: ASGIApp, max_body: int, hsts: bool) -> None:
        self.app = app
        self.max_body = max_body
        self.hsts = hsts
        catalogue = Catalogue.load()
        self.too_large = json.dumps(
            {"error": " / ".join(catalogue.text(language, "webchat.too_large") for language in ("sv", "en"))}, ensure_ascii=False
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_hsts(send) if self.hsts else send
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_body:
            await self._refuse(scope, send)
            return
        body = b""
        while True:  # read (at most max_body) before the app sees anything, then hand it over whole
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await self._refuse(scope, send)
                return
            if not message.get("more_body", False):
                break
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        log.warning("refused a request body over %d bytes on %s", self.max_body, scope.get("path", "?"))
        response = Response(self.too_large, status_code=413, media_type="application/json", headers={"Connection": "close"})
        await response(scope, _nothing, send)

    def _with_hsts(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"strict-transport-security", HSTS.encode())]}
            await send(message)

        return sending


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


class Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def make_server(app: Starlette, host: str, port: int) -> Server:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
    return Server(config)
