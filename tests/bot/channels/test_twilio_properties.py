"""Generated Twilio webhooks, correctly signed: answered 2xx or 4xx, never 500; every message accepted is stored."""

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.channels.twilio import INBOUND_PATH, STATUS_PATH, TwilioChannel, parse_inbound, parse_status
from bot.engine import Engine
from handlers.catalogue import Catalogue
from handlers.profile import load_profile
from storage.models import Message
from tests.properties import PROPERTIES, READABLE

pytestmark = pytest.mark.slow

PUBLIC = "https://utvag.example.se"
TEXT = st.text(READABLE, max_size=30)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "MessageSid": st.one_of(TEXT, st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True)),
        "SmsSid": TEXT,
        "From": st.one_of(TEXT, st.sampled_from(["+46701234567", "whatsapp:+46701234567", "070-123 45 67", "whatsapp:", "SIG", "+4"])),
        "Body": TEXT,
        "NumMedia": st.one_of(TEXT, st.integers().map(str)),
        "Latitude": TEXT,
        "Longitude": TEXT,
        "MessageStatus": st.one_of(TEXT, st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed", "read"])),
        "ErrorCode": st.one_of(TEXT, st.integers().map(str)),
    },
)
EXTRA = st.dictionaries(TEXT, TEXT, max_size=3)


def test_generated_twilio_forms_never_give_a_server_error(sqlite_db, clock):
    engine = Engine(sqlite_db.sessions, clock, Catalogue.load(), load_profile())
    stored: list[int] = []

    async def accept(inbound):
        result = engine.accept(inbound)
        if result.message_id is not None:
            stored.append(result.message_id)
        return result

    channel = TwilioChannel("AC" + "0" * 32, "t" * 32, sessions=sqlite_db.sessions, public_url=PUBLIC, api_url="http://127.0.0.1:9",
                            sms_from="+46700000000", whatsapp_from="whatsapp:+46700000001", now=clock.now)  # fmt: skip
    channel.status_wait = (0, 0.0)
    asyncio.run(channel.start(accept))
    client = TestClient(Starlette(routes=channel.info.routes), base_url="http://127.0.0.1:8080", raise_server_exceptions=False)
    validator = RequestValidator("t" * 32)

    @PROPERTIES
    @given(fields=FIELDS, extra=EXTRA, path=st.sampled_from([INBOUND_PATH, STATUS_PATH]))
    def webhook(fields: dict[str, str], extra: dict[str, str], path: str) -> None:
        form = {**extra, **fields}
        parse_inbound(form), parse_status(form)  # the parsers alone never raise
        signature = validator.compute_signature(PUBLIC + path, form)
        answer = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        assert answer.status_code < 500, (answer.status_code, form)

    webhook()
    with sqlite_db.sessions() as session:
        assert stored and session.scalar(select(func.count()).select_from(Message).where(Message.id.in_(stored))) == len(stored)
