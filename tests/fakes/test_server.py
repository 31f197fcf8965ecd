"""What the fakes share: the loopback server's lifecycle and its sockets."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI

FAKES = [FakeBotAPI, FakeTwilioAPI]


def server_side_nodelay(api: FakeBotAPI | FakeTwilioAPI) -> list[int]:
    """TCP_NODELAY on the server's end of every open connection, read in the server's own loop."""

    async def read() -> list[int]:
        assert api._server is not None
        transports = [connection.transport for connection in api._server.server_state.connections]
        return [t.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for t in transports]

    assert api._loop is not None
    return asyncio.run_coroutine_threadsafe(read(), api._loop).result(timeout=5)


@pytest.mark.parametrize("fake_class", FAKES)
def test_an_accepted_connection_has_nagle_off(fake_class: type[FakeBotAPI | FakeTwilioAPI]) -> None:
    # With Nagle on, a response written as headers then body waits ~40 ms for the client's delayed ACK.
    with fake_class() as api, httpx.Client(trust_env=False) as client:
        client.get(api.url + "/")  # any answer (a 404 here); the kept-alive connection stays open
        flags = server_side_nodelay(api)
    assert flags and all(flags), flags


@pytest.mark.parametrize("fake_class", FAKES)
def test_a_restarted_fake_keeps_its_port_and_answers(fake_class: type[FakeBotAPI | FakeTwilioAPI]) -> None:
    api = fake_class()
    api.stop()  # stopping a fake that never started does nothing
    with api:
        url = api.url
        assert httpx.get(url + "/", trust_env=False).status_code == 404
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/", trust_env=False)
    with api:
        assert api.url == url
        assert httpx.get(url + "/", trust_env=False).status_code == 404
    api.stop()  # a second stop does nothing
