"""The web chat, spoken to over HTTP by a real `utvag run`, as the page in a browser does."""

import time

import httpx
import pytest

from tests.runner import UtvagProcess

pytestmark = pytest.mark.e2e  # starts the Runtime or `utvag`: CI runs it again under shifted clocks


@pytest.fixture
def server(tmp_path, keys):
    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/utvag.db"}
    with UtvagProcess(tmp_path, env) as process:
        yield process


def poll(client: httpx.Client, after: int = 0, want: int = 1, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = client.get("/chat/api/messages", params={"after": after}).json()["messages"]
        if len(messages) >= want:
            return messages
        time.sleep(0.1)
    raise AssertionError(f"expected {want} messages, got {messages}")


def send(client: httpx.Client, **body) -> httpx.Response:
    return client.post("/chat/api/send", json=body, headers={"Origin": str(client.base_url).rstrip("/")})


def test_a_visitor_is_greeted_and_answered_in_the_chosen_language(server):
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/chat")
        assert page.status_code == 200 and 'id="messages"' in page.text
        cookie = page.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        (greeting,) = poll(client)
        assert greeting["from"] == "bot" and greeting["text"].startswith("Hej!")
        assert [option["label"] for option in greeting["options"]] == ["Svenska", "English"]
        answer = send(client, choice="lang:en", text="English")
        assert answer.status_code == 202
        mine, intro, *rest = poll(client, after=greeting["id"], want=4)  # then privacy, maybe office hours, the menu
        assert rest[-1]["text"].startswith("What would you like to do?")
        assert mine == {"id": answer.json()["id"], "from": "me", "text": "English", "options": []}
        assert intro["text"].startswith("We help you")


def test_the_page_makes_no_third_party_requests_and_cannot_be_framed(server):
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/chat")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        for asset in ("/chat/static/chat.js", "/chat/static/chat.css"):
            body = client.get(asset).text
            assert "http://" not in body.replace("http://www.w3.org", "") and "//cdn" not in body
        assert "https://" not in page.text and "http://" not in page.text


def test_two_visitors_never_see_each_others_messages(server):
    with httpx.Client(base_url=server.url) as one, httpx.Client(base_url=server.url) as two:
        one.get("/chat")
        two.get("/chat")
        poll(one)
        poll(two)
        send(one, text="bara för mig")
        time.sleep(0.5)
        assert all(message["text"] != "bara för mig" for message in poll(two))


def test_a_cross_site_post_is_refused(server):
    with httpx.Client(base_url=server.url) as client:
        client.get("/chat")
        refused = client.post("/chat/api/send", json={"text": "hej"}, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 400
        assert "error" in refused.json()
        form = client.post("/chat/api/send", data={"text": "hej"})
        assert form.status_code == 400


def test_a_too_long_message_gets_a_sentence(server):
    with httpx.Client(base_url=server.url) as client:
        client.get("/chat")
        answer = send(client, text="a" * 4001)
        assert answer.status_code == 413
        assert "4000" in answer.json()["error"]


def test_a_request_without_a_cookie_is_told_to_reload(server):
    answer = httpx.post(f"{server.url}/chat/api/send", json={"text": "hej"})
    assert answer.status_code == 400 and "Ladda om sidan" in answer.json()["error"]


def test_a_poster_tag_is_recorded_on_the_new_contact_and_nothing_else(server, tmp_path):
    from sqlalchemy import create_engine, text

    with httpx.Client(base_url=server.url) as client:
        client.get("/chat", params={"k": "affisch-vallingby"})
        poll(client)
    database = create_engine(f"sqlite:///{tmp_path}/utvag.db")
    with database.connect() as connection:
        assert connection.scalar(text("select source from contacts")) == "affisch-vallingby"
    database.dispose()


def test_the_danger_answer_is_marked_for_the_page_and_nothing_else_is(server):
    with httpx.Client(base_url=server.url) as client:
        client.get("/chat")
        (greeting,) = poll(client)
        send(client, choice="lang:sv", text="Svenska")
        last = poll(client, after=greeting["id"], want=4)[-1]["id"]
        send(client, text="jag vill dö")
        mine, answer = poll(client, after=last, want=2)
        assert answer["danger"] is True and answer["text"].startswith("Är du i fara just nu? Ring 112.")
        assert "danger" not in mine and "danger" not in greeting
