"""Generated Telegram updates: parsed or ignored, never an exception, and every private message parsed is stored.

https://core.telegram.org/bots/api#update
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from telegram import Bot, Update

from bot.channels.telegram import parse_staff_update, parse_update
from bot.engine import Engine
from handlers.catalogue import Catalogue
from handlers.profile import load_profile
from storage.models import Message
from tests.properties import ANY_TEXT, NUMBERS, PROPERTIES

pytestmark = pytest.mark.slow

STAFF_CHAT = -1001234
IDS = st.one_of(st.integers(min_value=-(2**63), max_value=2**63), st.sampled_from([STAFF_CHAT, 1, 918273645]), NUMBERS, ANY_TEXT)
USER = st.fixed_dictionaries({"id": IDS, "is_bot": st.booleans(), "first_name": ANY_TEXT})
CHAT = st.fixed_dictionaries({"id": IDS, "type": st.sampled_from(["private", "group", "supergroup", "channel", "x"])})
CONTACT = st.fixed_dictionaries({"phone_number": ANY_TEXT, "first_name": ANY_TEXT}, optional={"user_id": IDS})
MESSAGE = st.fixed_dictionaries(
    {"message_id": IDS, "date": st.integers(min_value=0, max_value=2**33), "chat": CHAT},
    optional={"from": USER, "text": ANY_TEXT, "contact": CONTACT, "sticker": st.just({}), "caption": ANY_TEXT,
              "reply_to_message": st.fixed_dictionaries({"message_id": IDS, "date": st.just(0), "chat": CHAT})},
)  # fmt: skip
QUERY = st.fixed_dictionaries({"id": ANY_TEXT, "from": USER, "chat_instance": ANY_TEXT}, optional={"data": ANY_TEXT, "message": MESSAGE})
UPDATE = st.fixed_dictionaries({"update_id": IDS}, optional={"message": MESSAGE, "callback_query": QUERY, "edited_message": MESSAGE})


def test_generated_updates_are_parsed_or_ignored_and_every_parsed_message_is_stored(sqlite_db, clock, caplog):
    engine = Engine(sqlite_db.sessions, clock, Catalogue.load(), load_profile())
    bot = Bot("123:abc")
    stored: list[int] = []

    @PROPERTIES
    @given(data=UPDATE)
    def update(data: dict) -> None:
        try:
            parsed = Update.de_json(data, bot)
        except Exception:
            return  # the webhook answers 400 "malformed update"
        parse_staff_update(parsed, STAFF_CHAT)
        inbound = parse_update(parsed)
        if inbound is not None:
            result = engine.accept(inbound)
            if result.message_id is not None:
                stored.append(result.message_id)

    update()
    with sqlite_db.sessions() as session:
        assert stored and session.scalar(select(func.count()).select_from(Message).where(Message.id.in_(stored))) == len(stored)
    while engine.process_pending():
        pass
    assert not [record for record in caplog.records if "handler failed" in record.getMessage()]
