"""Generated web-chat requests: every answer a 2xx or a 4xx with a sentence, never a 500, and nothing accepted lost."""

import asyncio
import logging
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.channels.webchat import WebChatChannel
from bot.engine import Engine
from bot.web import build_app
from handlers.catalogue import Catalogue
from handlers.profile import load_profile
from storage.models import Message
from tests.properties import ANY_TEXT, JSON_VALUES, PROPERTIES, json_bytes

pytestmark = pytest.mark.slow

BODIES = st.one_of(
    st.fixed_dictionaries({}, optional={"text": ANY_TEXT | JSON_VALUES, "choice": ANY_TEXT | JSON_VALUES}).map(json_bytes),
    JSON_VALUES.map(json_bytes),
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b'{"text": 1e999}', b'{"text": "' + b"9" * 5000 + b'"}', b"[" * 5000]),
)

AFTER = st.binary(max_size=30) | st.integers().map(lambda number: str(number).encode())


class Ticks:
    now = 0.0

    def __call__(self) -> float:
        self.now += 60.0  # the buckets always have room: these tests are about parsing, not limits
        return self.now


def test_generated_sends_and_polls_get_an_answer_never_a_server_error(sqlite_db, clock, caplog):
    engine = Engine(sqlite_db.sessions, clock, Catalogue.load(), load_profile())
    accepted: list[int] = []

    async def accept(inbound):
        result = engine.accept(inbound)
        if result.message_id is not None:
            accepted.append(result.message_id)
        return result

    channel = WebChatChannel(sqlite_db.sessions, catalogue=engine.catalogue, monotonic=Ticks())
    asyncio.run(channel.start(accept))
    client = TestClient(build_app(channel.info.routes), base_url="http://testserver", raise_server_exceptions=False)
    client.get("/chat/api/messages")
    answered: list[int] = []

    @PROPERTIES
    @given(body=BODIES, after=AFTER, content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]))
    def request(body: bytes, after: bytes, content_type: str) -> None:
        sent = client.post("/chat/api/send", content=body, headers={"Origin": "http://testserver", "Content-Type": content_type})
        assert sent.status_code in (202, 400, 413, 429), (sent.status_code, body[:80])
        if sent.status_code == 202:
            answered.append(sent.json()["id"])
        else:
            assert sent.json()["error"].endswith(".")  # a sentence
        polled = client.get("/chat/api/messages?after=" + quote_from_bytes(after))
        assert polled.status_code in (200, 400), (polled.status_code, after)

    request()
    assert answered and sorted(answered) == sorted(accepted[1:])  # all but the greeting's start
    with sqlite_db.sessions() as session:  # every accepted message is stored…
        assert session.scalar(select(func.count()).select_from(Message).where(Message.id.in_(answered))) == len(answered)
    with caplog.at_level(logging.ERROR):
        while engine.process_pending():
            pass
    with sqlite_db.sessions() as session:  # …and handled (a generated RADERA, JA may have erased the lot), none failed
        assert session.scalar(select(func.count()).select_from(Message).where(Message.processed_at.is_(None))) == 0
    assert not [record for record in caplog.records if "handler failed" in record.getMessage()]
