"""Generated staff commands, replies and button presses: each is answered or refused, never an exception."""

import itertools

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.channels.base import InboundMessage
from bot.engine import Engine
from handlers.catalogue import Catalogue
from handlers.desk import StaffAction
from handlers.profile import load_profile
from handlers.turn import Inbound
from storage.staff import add_staff
from tests.properties import ANY_TEXT, PROPERTIES

pytestmark = pytest.mark.slow

COMMANDS = ["/ko", "/queue", "/nasta", "/nästa", "/next", "/arende", "/case", "/svara", "/reply", "/notera", "/note", "/inskriv",
            "/enrol", "/incheckning", "/checkin", "/incident", "/händelse", "/kontakta", "/contact", "/avsluta", "/close",
            "/ta", "/släpp", "/ko@utvag_bot", "/", "/okänt"]  # fmt: skip
VERBS = ["claim", "ack", "release", "handover", "handto", "incident", "outcome", "call", "close", "x", ""]
BIG = st.integers(min_value=-(2**80), max_value=2**80).map(str)


def test_generated_staff_actions_are_answered_never_raise(sqlite_db, clock):
    engine = Engine(sqlite_db.sessions, clock, Catalogue.load(), load_profile())  # parsing is the point: one database
    with sqlite_db.sessions.begin() as session:
        add_staff(session, name="Sara", role="lead", now=clock.now(), telegram_id="42")
    for step, content in enumerate([Inbound(kind="start", text="/start"), Inbound(kind="choice", choice="lang:sv"),
                                    Inbound(kind="choice", choice="menu:ask"), Inbound(kind="text", text="Hur lång tid tar det?")]):
        engine.accept(InboundMessage("telegram", f"u{step}", "918273645", content))
        engine.process_pending()
    with sqlite_db.sessions() as session:
        from sqlalchemy import select

        from storage.models import Case

        code = session.scalar(select(Case.code))
    codes = st.sampled_from([code, "K-0000", "K-ZZZZZZ", ""]) | st.text(max_size=8)
    arguments = st.one_of(ANY_TEXT, BIG, st.sampled_from(["bostad", "housing", "confirm", "paus", "varje måndag 10:00", "070-123 45 67"]))
    counter = itertools.count(1000)

    commands = st.builds(lambda command, case, rest: f"{command} {case} {rest}".strip(), st.sampled_from(COMMANDS), codes, arguments)
    buttons = st.builds(lambda verb, case, argument: f"{verb}:{case}:{argument}", st.sampled_from(VERBS), codes | BIG, arguments)
    actions = st.one_of(
        st.builds(lambda text: StaffAction(telegram_id="42", text=text), commands | ANY_TEXT),
        st.builds(lambda choice: StaffAction(telegram_id="42", choice=choice), buttons),
        st.builds(lambda text, reply: StaffAction(telegram_id="42", text=text, reply_to=reply), ANY_TEXT, BIG | ANY_TEXT),
        st.builds(lambda who, text: StaffAction(telegram_id=who, text=text), ANY_TEXT | BIG, commands),
    )

    @PROPERTIES
    @given(action=actions)
    @example(action=StaffAction(telegram_id="42", choice="incident:99999999999999999999999:confirm"))
    @example(action=StaffAction(telegram_id="42", choice=f"handto:{code}:99999999999999999999999"))
    def act(action: StaffAction) -> None:
        assert engine.handle_staff(f"p{next(counter)}", action)

    act()
