"""What every fake API shares: a Starlette app served by uvicorn on 127.0.0.1, in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import uvicorn
from starlette.applications import Starlette


class LoopbackServer:
    """Start, stop and restart one fake's HTTP server; subclasses give the app and what to do around the loop.

    The server runs in its own thread and event loop, so a test may run its own loop in the main thread, and code in
    the test thread reaches the server's loop through `_in_loop`."""

    kind = "fake"  # names the thread ("fake-<kind>") and the start-up error

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self._port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    # -- for subclasses ----------------------------------------------------------------------------

    def _app(self) -> Starlette:
        raise NotImplementedError

    def _on_start(self) -> None:
        """In the server thread before it serves: make asyncio objects afresh, as they bind to the first loop using them."""

    def _on_stop(self) -> None:
        """In the server's loop once `_closing` is set: free whatever waits, as uvicorn waits for open requests."""

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def start(self) -> None:
        # Binding here (not inside uvicorn) gives port=0 its real number before anyone asks for the URL, and a
        # restarted fake keeps the same port, so a running client can reconnect after an "outage".
        # The socket must say it is TCP: asyncio sets TCP_NODELAY on an accepted connection only when the listening
        # socket's proto is IPPROTO_TCP, and with Nagle on each response (headers, then body) would wait ~40 ms for
        # the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), http="h11", lifespan="off", log_level="warning", timeout_graceful_shutdown=2)
        self._server = server = uvicorn.Server(config)
        self._closing = False
        self._thread = threading.Thread(target=self._serve, args=(server, sock), name=f"fake-{self.kind.lower()}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fake {self.kind} API did not start on {self.url}")
            time.sleep(0.01)

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        self._on_start()
        self._loop = loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            loop.close()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._in_loop(self._shutdown_in_loop)
        self._thread.join(timeout=10)
        self._thread = self._loop = None

    def _shutdown_in_loop(self) -> None:
        self._closing = True
        self._on_stop()
        assert self._server is not None
        self._server.should_exit = True

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _in_loop(self, callback: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is not running: nobody is waiting
            if self._loop is not None:
                self._loop.call_soon_threadsafe(callback)
