import json

from sqlalchemy import select

from storage.models import Case
from tests.handlers.test_ask import started


def test_on_telegram_the_number_comes_from_the_share_button(engine):
    chat = started(engine, title="Bli uppringd (Telegram)")
    chat.sent = 0
    (windows,) = chat.press("Bli uppringd")
    assert windows == "När kan vi ringa dig? Välj en tid."
    assert chat.labels[0] == "tisdag 1 december kl. 13–15"
    assert "lördag" not in " ".join(chat.labels) and "söndag" not in " ".join(chat.labels)
    (share,) = chat.press("tisdag 1 december kl. 13–15")
    assert share.startswith("Tryck på knappen för att dela ditt nummer")
    confirmed, _ = chat.send(kind="contact", phone="+46701234567")
    assert confirmed == "Klart! Vi ringer dig tisdag 1 december kl. 13–15. Numret visas bara för den som ringer.\nÄr du i fara: ring 112."
    assert chat.sent <= 3
    with engine.sessions() as session:
        case = session.scalar(select(Case))
    assert case.kind == "call"
    assert json.loads(case.details)["phone"] == "+46701234567"
    assert "46701234567" not in (case.summary or "")


def test_on_sms_we_call_the_sender_only_after_a_yes(engine):
    chat = started(engine, channel="sms", address="070-765 43 21", title="Bli uppringd (SMS)")
    chat.press("Bli uppringd")
    (question,) = chat.press(chat.labels[1])
    assert question == "Ska vi ringa numret du skriver från?"
    confirmed, _ = chat.press("Ja, det numret")
    assert confirmed.startswith("Klart! Vi ringer dig")
    with engine.sessions() as session:
        assert json.loads(session.scalar(select(Case.details)))["phone"] == "+46707654321"


def test_on_sms_another_number_can_be_typed(engine):
    chat = started(engine, channel="sms", address="+46707654322")
    chat.press("Bli uppringd")
    chat.press(chat.labels[0])
    (ask,) = chat.press("Ett annat nummer")
    assert ask.startswith("Skriv numret")
    chat.send("08-508 290 00")
    with engine.sessions() as session:
        assert json.loads(session.scalar(select(Case.details)))["phone"] == "+46850829000"


def test_in_the_web_chat_a_typed_number_is_checked(engine):
    chat = started(engine, channel="webchat", address="visitor-token-abcdefghijklmnoq")
    chat.press("Bli uppringd")
    chat.press(chat.labels[0])
    (bad,) = chat.send("12345")
    assert bad.startswith("Det ser inte ut som ett telefonnummer")
    confirmed, _ = chat.send("+46 70 123 45 67")
    assert confirmed.startswith("Klart!")


def test_a_call_in_english(engine):
    chat = started(engine, "English", title="Get a call (English)")
    chat.press("Get a call")
    assert chat.labels[0].startswith("Tuesday 1 December")
    chat.press(chat.labels[0])
    confirmed, _ = chat.send(kind="contact", phone="+46701234567")
    assert confirmed.startswith("Done! We will call you Tuesday 1 December")


def test_a_made_up_window_is_refused(engine):
    chat = started(engine)
    chat.press("Bli uppringd")
    refused, again = chat.send("x", kind="choice", choice="window:2026-12-05T13:00")  # a Saturday
    assert refused.startswith("Den tiden går inte längre att välja")
    assert again.startswith("När kan vi ringa dig?")
