from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

import handlers.router
from bot.channels.base import InboundMessage
from handlers.turn import Inbound
from storage.models import ChannelIdentity, Contact, Conversation, Message, OutboxItem


def text(address: str, body: str, provider_id: str, channel: str = "telegram") -> InboundMessage:
    return InboundMessage(channel, provider_id, address, Inbound(kind="text", text=body))


def replies(db, contact_id: str) -> list[str]:
    with db.sessions() as session:
        rows = session.scalars(
            select(Message).where(Message.contact_id == contact_id, Message.direction == "out").order_by(Message.id)
        )
        return [row.body for row in rows]


def count(db, model) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_start_greets_in_swedish_and_offers_a_language(db, engine):
    accepted = engine.accept(text("5550001", "/start", "1"))
    engine.process_pending()
    (greeting,) = replies(db, accepted.contact_id)
    assert greeting.startswith("Hej! Det här är Utväg")
    with db.sessions() as session:
        assert session.get(Conversation, accepted.contact_id).state == "choose_language"


def test_the_chosen_language_is_stored_and_used(db, engine):
    engine.accept(text("5550002", "/start", "1"))
    accepted = engine.accept(InboundMessage("telegram", "2", "5550002", Inbound(kind="choice", choice="lang:en")))
    engine.process_pending()
    greeting, intro, privacy, menu = replies(db, accepted.contact_id)
    assert intro.startswith("We help you")
    assert "DELETE" in privacy
    with db.sessions() as session:
        assert session.get(Contact, accepted.contact_id).language == "en"


def test_a_typed_language_works_like_a_button(db, engine):
    engine.accept(text("5550003", "hej", "1"))
    accepted = engine.accept(text("5550003", "1", "2"))
    engine.process_pending()
    assert replies(db, accepted.contact_id)[1].startswith("Vi hjälper dig")


def test_the_same_update_ten_times_at_once_is_one_message_and_one_reply(db, engine):
    update = text("5550004", "/start", "42")
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: engine.accept(update), range(10)))
    assert sum(not result.duplicate for result in results) == 1
    assert len({result.contact_id for result in results}) == 1
    engine.process_pending()
    engine.process_pending()
    assert count(db, Message) == 2  # the message and its one reply
    assert count(db, OutboxItem) == 1
    assert count(db, ChannelIdentity) == 1


def test_first_messages_from_ten_new_people_at_once_make_ten_contacts(db, engine):
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda n: engine.accept(text(f"77700{n}", "hej", f"p{n}")), range(10)))
    assert count(db, Contact) == 10


def test_one_contacts_messages_are_handled_in_order(db, engine):
    for n, body in enumerate(["/start", "2", "/start", "1"]):
        accepted = engine.accept(text("5550005", body, f"o{n}"))
    engine.process_pending()
    bodies = replies(db, accepted.contact_id)
    assert [body.split()[0] for body in bodies] == ["Hej!", "We", "What", "What", "Hi!", "Vi", "Det", "Vad"]


def test_a_failing_handler_gets_an_apology_and_never_a_silence(db, engine, monkeypatch):
    def broken(turn):
        raise RuntimeError("bug")

    monkeypatch.setitem(handlers.router.FLOWS, "new", broken)
    monkeypatch.setattr(handlers.router.start, "greet", broken)
    accepted = engine.accept(text("5550006", "hej", "1"))
    assert engine.process_pending() == 1
    (apology,) = replies(db, accepted.contact_id)
    assert apology.startswith("Något gick fel hos oss")
    assert engine.process_pending() == 0


def test_the_same_number_in_two_forms_is_one_person(db, engine):
    one = engine.accept(text("070-123 45 67", "hej", "SM1", channel="sms"))
    two = engine.accept(text("+46701234567", "hej", "SM2", channel="sms"))
    assert one.contact_id == two.contact_id


def test_a_flood_is_stored_in_full_but_not_answered_message_by_message(db, engine):
    for n in range(100):
        accepted = engine.accept(text("+46701234567", "hej hej", f"SM{n}", channel="sms"))
    while engine.process_pending():
        pass
    with db.sessions() as session:
        inbound = session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    assert inbound == 100
    assert len(replies(db, accepted.contact_id)) <= 22
    engine.accept(text("+46701234567", "de ska döda mig", "SM-danger", channel="sms"))
    engine.process_pending()
    assert "112" in replies(db, accepted.contact_id)[-1]  # danger is answered even inside a flood
    engine.accept(text("+46701234567", "dom sa ja har till fredag annars", "SM-maybe", channel="sms"))
    engine.process_pending()
    assert replies(db, accepted.contact_id)[-1].startswith("Är du i fara just nu? Svara JA eller NEJ.")  # and so is the question


def test_messages_that_wait_behind_an_erasure_are_dropped_quietly_not_failed(db, engine, caplog):
    import logging

    engine.accept(text("5550009", "/start", "e1"))
    engine.process_pending()
    for number, body in enumerate(["RADERA", "JA", "hej igen", "är ni kvar?"], start=2):
        engine.accept(text("5550009", body, f"e{number}"))  # all accepted before any is handled
    with caplog.at_level(logging.ERROR):
        while engine.process_pending():
            pass
    assert not [record for record in caplog.records if "handler failed" in record.getMessage()]
    assert count(db, Contact) == 0
