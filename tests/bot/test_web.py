"""The web server: health, what a database outage answers, origins, the socket bound before start; around every route
bodies capped before reading, redirects as paths, HSTS behind https."""

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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


async def echo_length(request: Request) -> JSONResponse:
    return JSONResponse({"length": len(await request.body())})


def client(**kwargs) -> TestClient:
    return TestClient(build_app([Route("/chat", echo_length, methods=["GET", "POST"])], **kwargs), follow_redirects=False)


def test_a_foreign_host_is_never_where_a_redirect_points():
    answer = client().get("/chat/", headers={"Host": "evil.example"})
    assert answer.status_code == 307 and answer.headers["location"] == "/chat"
    assert client().get("/chat//", headers={"Host": "evil.example"}).headers["location"] == "/chat"


def test_a_body_over_the_cap_is_refused_with_a_sentence_before_it_is_read():
    web = client(max_body=1000)
    assert web.post("/chat", content=b"a" * 1000).json() == {"length": 1000}
    declared = web.post("/chat", content=b"a" * 1001)
    assert declared.status_code == 413 and "för stort" in declared.json()["error"] and "too large" in declared.json()["error"]

    def chunks():  # no Content-Length: cut off while streaming
        for _ in range(50):
            yield b"a" * 100

    assert web.post("/chat", content=chunks()).status_code == 413
    assert web.post("/chat", headers={"Content-Length": "9" * 30}, content=b"").status_code == 413


def test_hsts_only_when_the_public_url_is_https():
    assert "strict-transport-security" not in client().get("/healthz").headers
    assert client(hsts=True).get("/healthz").headers["strict-transport-security"].startswith("max-age=")


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
