"""The web server: one Starlette app whose routes come from the channels; never names a provider.

Around every route: no request body larger than MAX_BODY is read (a declared length is refused at once, a
stream is cut off), redirects are paths built here and never from the Host header, and HSTS is sent when the
public URL is https.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Generator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers.catalogue import Catalogue

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # the largest thing anyone sends here: a Telegram update, a Twilio form, a dashboard note
HSTS = "max-age=31536000"


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def home(_request: Request) -> Response:
    return RedirectResponse("/chat", status_code=302)


async def without_slash(request: Request) -> Response:
    # Starlette's own slash redirect copies the Host header into an absolute URL: a foreign Host would be echoed
    # back as where to go. A path cannot point anywhere but here.
    path = "/" + request.path_params["path"].strip("/")
    return RedirectResponse(path if not path.startswith("//") else "/", status_code=307)


def build_app(routes: Sequence[BaseRoute], *, hsts: bool = False, max_body: int = MAX_BODY) -> Starlette:
    app = Starlette(routes=[Route("/", home), Route("/healthz", health), *routes, Route("/{path:path}/", without_slash)])
    app.router.redirect_slashes = False
    app.add_middleware(Guard, max_body=max_body, hsts=hsts)
    return app


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
