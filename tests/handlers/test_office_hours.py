from datetime import UTC, datetime

from tests.handlers.test_ask import started


def test_a_question_on_saturday_night_is_told_when_staff_answer_with_112(engine, clock):
    clock._now = datetime(2026, 12, 5, 21, 30, tzinfo=UTC)  # Saturday 22:30 in Stockholm
    chat = started(engine, title="Utanför kontorstid")
    chat.press("Ställ en fråga")
    received, closed, _ = chat.send("Hur ansöker man?")
    assert received.startswith("Tack!")
    assert closed == "Personalen är inte på plats just nu. Vi svarar på måndag kl. 9. Är du i fara: ring 112."


def test_the_start_tells_a_late_visitor_too(engine, clock):
    clock._now = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)  # Christmas Eve
    chat = started(engine)
    chat.send("/start")
    replies = chat.press("Svenska")
    assert any(reply.startswith("Personalen är inte på plats just nu.") for reply in replies)
