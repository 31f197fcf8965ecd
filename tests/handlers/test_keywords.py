from sqlalchemy import select

from storage.models import Contact
from tests.handlers.test_ask import started


def stopped(engine) -> bool:
    with engine.sessions() as session:
        return session.scalar(select(Contact.stopped_at)) is not None


def test_sluta_stops_and_is_confirmed_starta_resumes(engine):
    chat = started(engine, channel="sms", address="+46701230000", title="SLUTA och STARTA (SMS)")
    (done,) = chat.send("SLUTA")
    assert done.startswith("Du får inga fler meddelanden")
    assert stopped(engine)
    (back,) = chat.send("starta")
    assert back.startswith("Välkommen tillbaka")
    assert not stopped(engine)


def test_twilios_own_stop_word_is_recorded_without_a_reply_of_ours(engine):
    chat = started(engine, channel="sms", address="+46701230001")
    assert chat.send("STOP") == []
    assert stopped(engine)


def test_stop_on_telegram_is_just_a_word(engine):
    chat = started(engine)
    chat.send("stop")
    assert not stopped(engine)


def test_help_says_what_this_is_and_gives_112(engine):
    chat = started(engine, channel="sms", address="+46701230002")
    help_text, menu = chat.send("HJÄLP")
    assert "Vi är inte polisen" in help_text and "112" in help_text
    assert menu.startswith("Vad vill du göra?")
