"""The web server around every route: bodies capped before reading, redirects as paths, HSTS behind https."""

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.web import build_app


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
