"""The web server: health, what a database outage answers, origins, and the socket bound before start."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.web import bind_socket, build_app, origin_of


def failing(error: Exception):
    async def endpoint(_request: Request) -> Response:
        raise error

    return endpoint


def database_error(url: str, *statements: str) -> DBAPIError:
    """A real error from a real driver: a refused connection, or a query the database refused."""
    try:
        with create_engine(url).begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    except DBAPIError as exc:
        return exc
    raise AssertionError("no error")


def test_healthz_answers_503_when_people_cannot_be_reached():
    state = {"healthy": True}

    async def health():
        return state["healthy"], {"status": "ok" if state["healthy"] else "unavailable"}

    client = TestClient(build_app([], health))
    assert client.get("/healthz").status_code == 200
    state["healthy"] = False
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.json() == {"status": "unavailable"} and answer.headers["cache-control"] == "no-store"


def test_a_database_outage_answers_503_try_again_and_a_refused_query_is_still_a_bug():
    outage = database_error("postgresql+psycopg://utvag@127.0.0.1:1/utvag", "select 1")
    duplicate = database_error("sqlite://", "create table t (a unique)", "insert into t values (1)", "insert into t values (1)")
    missing = database_error("sqlite://", "select * from nowhere")  # an OperationalError to SQLite, and a bug
    routes = [Route("/outage", failing(outage), methods=["POST"]), Route("/bug", failing(duplicate)), Route("/typo", failing(missing))]
    client = TestClient(build_app(routes), raise_server_exceptions=False)
    answer = client.post("/outage")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "Try again in a moment" in answer.json()["error"] and "Försök igen om en stund" in answer.json()["error"]
    assert client.get("/bug").status_code == 500 and client.get("/typo").status_code == 500


@pytest.mark.parametrize(
    ("url", "origin"),
    [("https://Chat.Example.se/", "https://chat.example.se"), ("https://chat.example.se:443", "https://chat.example.se"),
     ("http://127.0.0.1:8080/chat", "http://127.0.0.1:8080"), ("https://chat.example.se:8443", "https://chat.example.se:8443")],
)  # fmt: skip
def test_an_origin_is_written_as_a_browser_writes_it(url, origin):
    assert origin_of(url) == origin


def test_a_busy_port_is_known_before_anything_starts():
    sock = bind_socket("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            bind_socket("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()


def test_while_the_gate_is_closed_posts_are_answered_503_and_reads_still_served():
    from starlette.responses import PlainTextResponse

    from bot.web import Gate

    seen = []

    async def post(request):
        seen.append(gate.in_flight)
        return PlainTextResponse("stored")

    gate = Gate()
    app = build_app([Route("/hook", post, methods=["POST"])], gate=gate)
    with TestClient(app) as client:
        assert client.post("/hook").text == "stored" and seen == [1]  # counted while in flight, so a stop waits for it
        assert gate.in_flight == 0
        gate.close()
        refused = client.post("/hook")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5" and seen == [1]
        assert client.get("/healthz").status_code == 200
