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
        first = client.get("/chat/api/messages", params={"after": 0})  # the page's own first request issues the id
        cookie = first.headers["set-cookie"]
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
        visit(client)
        refused = client.post("/chat/api/send", json={"text": "hej"}, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 400
        assert "error" in refused.json()
        form = client.post("/chat/api/send", data={"text": "hej"})
        assert form.status_code == 400


def test_a_too_long_message_gets_a_sentence(server):
    with httpx.Client(base_url=server.url) as client:
        visit(client)
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
def visit(client: httpx.Client) -> dict:
    client.get("/chat")
    return poll(client)[0]


def conversation(client: httpx.Client) -> list[str]:
    return [message["text"] for message in client.get("/chat/api/messages", params={"after": 0}).json()["messages"]]


def test_nothing_in_a_copy_of_the_database_opens_a_chat(server, tmp_path):
    from sqlalchemy import create_engine, inspect, text

    with httpx.Client(base_url=server.url) as client:
        visit(client)
        send(client, text="hemligt: jag bor på Råckstavägen")
        poll(client, want=2)
        cookie = client.cookies["utvag_chat"]
    database = create_engine(f"sqlite:///{tmp_path}/utvag.db")
    with database.connect() as connection:
        values = {str(value) for table in inspect(database).get_table_names()
                  for row in connection.execute(text(f"select * from {table}")) for value in row if value is not None}  # fmt: skip
    database.dispose()
    raw = cookie.split(".")[0]
    assert not [value for value in values if raw in value]  # the visitor id is nowhere in clear
    for value in sorted(values, key=len)[-200:]:  # the longest values: every id, hash and token among them
        for candidate in (value, value.removeprefix("start:")):
            with httpx.Client(base_url=server.url, cookies={"utvag_chat": candidate}) as thief:
                answer = thief.get("/chat/api/messages", params={"after": 0})
                assert "Råckstavägen" not in answer.text


def test_an_id_the_server_never_issued_is_not_accepted(server):
    chosen = "A" * 32  # fixed beforehand by someone who hopes the person will use it
    with httpx.Client(base_url=server.url, cookies={"utvag_chat": chosen}) as client:
        refused = send(client, text="hej")
        assert refused.status_code == 400 and "Ladda om sidan" in refused.json()["error"]
        issued = client.get("/chat/api/messages", params={"after": 0}).cookies["utvag_chat"]
        assert issued != chosen and issued.startswith(issued.split(".")[0] + ".")  # a fresh, signed id instead


def test_arriving_through_a_link_from_another_site_keeps_the_chat(server):
    with httpx.Client(base_url=server.url) as client:
        visit(client)
        send(client, choice="lang:sv", text="Svenska")
        poll(client, want=3)
        cookie = client.cookies["utvag_chat"]
        # A cross-site link: the SameSite=Strict cookie is not sent with the page request.
        page = httpx.get(f"{server.url}/chat", headers={"Referer": "https://example.org/"})
        assert "set-cookie" not in page.headers  # nothing replaces the person's cookie
    with httpx.Client(base_url=server.url, cookies={"utvag_chat": cookie}) as client:
        assert "Svenska" in conversation(client)  # the page's own requests (same site) still open the chat


def test_the_quick_exit_leaves_nothing_that_reopens_the_chat_but_a_written_down_code_does(server):
    with httpx.Client(base_url=server.url) as phone:
        visit(phone)
        send(phone, choice="lang:sv", text="Svenska")
        poll(phone, want=3)
        given = phone.post("/chat/api/code", json={}, headers={"Origin": server.url})
        code = given.json()["code"]
        assert len(code.split("-")) == 4 and code in given.json()["text"]
        left_behind = phone.cookies["utvag_chat"]
        leave = phone.get("/chat/leave")
        assert leave.status_code == 200 and "/chat/static/leave.js" in leave.text
        assert "https://www.google.com/" in phone.get("/chat/static/leave.js").text
        assert "utvag_chat" not in phone.cookies  # the browser is told to forget it
        assert '"cookies"' in leave.headers["clear-site-data"]
    with httpx.Client(base_url=server.url, cookies={"utvag_chat": left_behind}) as later:
        assert "Svenska" not in conversation(later)  # even a copy of the old cookie opens nothing
    with httpx.Client(base_url=server.url) as laptop:
        laptop.get("/chat")
        wrong = laptop.post("/chat/api/resume", json={"code": "bord katt sol regn"}, headers={"Origin": server.url})
        assert wrong.status_code == 400 and "Koden stämmer inte" in wrong.json()["error"]
        opened = laptop.post("/chat/api/resume", json={"code": code.upper().replace("-", " ")}, headers={"Origin": server.url})
        assert opened.status_code == 200
        assert "Svenska" in conversation(laptop)


def test_writing_kod_gives_a_code_beside_the_chat_not_in_it(server):
    with httpx.Client(base_url=server.url) as client:
        visit(client)
        answer = send(client, text="Kod")
        assert answer.status_code == 200 and answer.json()["notice"].startswith("Din kod: ")
        assert "Din kod" not in " ".join(conversation(client)) and "Kod" not in conversation(client)


def test_guessing_codes_is_stopped_with_a_sentence(server):
    with httpx.Client(base_url=server.url) as client:
        answers = [client.post("/chat/api/resume", json={"code": "bord katt sol regn"}, headers={"Origin": server.url}) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [400] * 5 + [429]
    assert "Vänta en minut" in answers[-1].json()["error"]


def test_after_erasure_the_farewell_shows_in_the_chat_and_the_chat_ends(server):
    with httpx.Client(base_url=server.url) as client:
        greeting = visit(client)
        send(client, choice="lang:sv", text="Svenska")
        poll(client, after=greeting["id"], want=3)
        send(client, text="RADERA")
        send(client, text="JA")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = client.get("/chat/api/messages", params={"after": 1000}).json()
            if answer.get("ended"):
                break
            time.sleep(0.1)
        assert answer["ended"] and answer["messages"][0]["text"].startswith("Klart. Allt om dig är raderat.")
        assert "utvag_chat" not in client.cookies


def test_a_huge_body_is_refused_before_it_is_read(server):
    with httpx.Client(base_url=server.url) as client:
        visit(client)
        declared = send(client, text="a" * 200_000)
        assert declared.status_code == 413 and "för stort" in declared.json()["error"]

        def chunks():
            yield b'{"text": "'
            for _ in range(100):
                yield b"a" * 10_000

        streamed = client.post("/chat/api/send", content=chunks(), headers={"Origin": server.url, "Content-Type": "application/json"})
        assert streamed.status_code == 413


def test_malformed_input_gets_a_sentence_not_a_server_error(server):
    with httpx.Client(base_url=server.url) as client:
        visit(client)
        headers = {"Origin": server.url, "Content-Type": "application/json"}
        surrogate = client.post("/chat/api/send", content=b'{"text": "x\\ud800y"}', headers=headers)
        assert surrogate.status_code == 400 and "tecken som inte går att läsa" in surrogate.json()["error"]
        for body in (b"[1, 2]", b'{"text": ' + b"9" * 5000 + b"}", b"[" * 100_00 + b"]" * 100_00, b"\xff\xfe"):
            answer = client.post("/chat/api/send", content=body, headers=headers)
            assert answer.status_code in (400, 413) and answer.json()["error"], body[:20]
        huge = client.get("/chat/api/messages", params={"after": "9223372036854775808"})
        assert huge.status_code == 400 and "Ladda om sidan" in huge.json()["error"]


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def chat_app(sqlite_db, clock, caplog):
    """The web chat in-process over the real engine, with its own clock for the token buckets."""
    import asyncio

    from starlette.testclient import TestClient

    from bot.channels.webchat import WebChatChannel
    from bot.engine import Engine
    from bot.web import build_app
    from handlers.catalogue import Catalogue
    from handlers.profile import load_profile

    engine = Engine(sqlite_db.sessions, clock, Catalogue.load(), load_profile())
    floods: list[str] = []

    async def on_flood(what: str) -> None:
        floods.append(what)

    async def accept(inbound):
        accepted = engine.accept(inbound)
        engine.process_pending()
        return accepted

    ticks = Ticks()
    channel = WebChatChannel(sqlite_db.sessions, catalogue=engine.catalogue, on_flood=on_flood, monotonic=ticks)
    asyncio.run(channel.start(accept))
    client = TestClient(build_app(channel.info.routes), base_url="http://testserver")
    client.ticks, client.floods, client.engine = ticks, floods, engine  # type: ignore[attr-defined]
    return client


def post(client, **body):
    return client.post("/chat/api/send", json=body, headers={"Origin": "http://testserver"})


def test_a_script_is_slowed_with_a_sentence_danger_still_goes_through_and_staff_get_one_alert(chat_app, caplog, sqlite_db):
    from sqlalchemy import select

    from storage.models import Case, OutboxItem

    chat_app.get("/chat/api/messages")
    answers = [post(chat_app, text=f"fråga {number}") for number in range(30)]
    assert [answer.status_code for answer in answers].count(202) == 10
    refused = answers[-1]
    assert refused.status_code == 429 and "Vänta en halv minut" in refused.json()["error"] and "112" in refused.json()["error"]
    danger = post(chat_app, text="de hotar att döda mig")
    assert danger.status_code == 202  # whatever the limits
    with sqlite_db.sessions() as session:
        assert session.scalar(select(Case).where(Case.urgent)) is not None
    chat_app.ticks.now += 2.0
    assert post(chat_app, text="nu igen").status_code == 202  # a steady pace is always allowed
    assert chat_app.floods == ["messages from one chat"]  # twenty refusals, one alert
    events = [record for record in caplog.records if "security event" in record.getMessage()]
    assert len(events) == 1 and "fråga" not in events[0].getMessage()
    chat_app.ticks.now += 16 * 60
    [post(chat_app, text="igen") for _ in range(12)]
    assert len(chat_app.floods) == 2  # a quarter of an hour later, a flood is news again
    with sqlite_db.sessions() as session:
        assert session.scalar(select(OutboxItem).where(OutboxItem.target == "staff_group")) is not None


def test_one_address_opens_only_a_few_new_chats_a_minute(chat_app):
    opened = []
    for _ in range(8):
        chat_app.cookies.clear()
        opened.append(chat_app.get("/chat/api/messages").status_code)
    assert opened == [200] * 5 + [429] * 3
    chat_app.cookies.clear()
    refused = chat_app.get("/chat/api/messages")
    assert "Vänta en minut" in refused.json()["error"]
    chat_app.ticks.now += 60
    chat_app.cookies.clear()
    assert chat_app.get("/chat/api/messages").status_code == 200
