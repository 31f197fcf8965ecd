"""The web server: one Starlette app whose routes come from the channels; never names a provider."""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def home(_request: Request) -> Response:
    return RedirectResponse("/chat", status_code=302)


def build_app(routes: Sequence[BaseRoute]) -> Starlette:
    return Starlette(routes=[Route("/", home), Route("/healthz", health), *routes])


class Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def make_server(app: Starlette, host: str, port: int) -> Server:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
    return Server(config)
