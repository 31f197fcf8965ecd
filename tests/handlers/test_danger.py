from sqlalchemy import select

from storage.models import Case, OutboxItem
from tests.handlers.test_ask import started


def test_danger_in_the_middle_of_an_application_is_answered_at_once_and_the_intake_goes_on(engine):
    chat = started(engine, title="Fara mitt i en ansökan")
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    (reply,) = chat.send("de står utanför min dörr och har en kniv")
    assert reply.startswith("Är du i fara just nu? Ring 112.")
    assert "90101" in reply and "1177" in reply and "114 14" in reply
    assert "sms" not in reply.lower()  # never tell anyone to text 112
    with engine.sessions() as session:
        case = session.scalar(select(Case))
        assert case.urgent and case.kind == "danger"
        alert = session.scalar(select(OutboxItem).where(OutboxItem.target == "staff_group"))
        assert "AKUT" in alert.payload
    (needs,) = chat.send("Ja")  # the eligibility question is still there to answer
    assert needs.startswith("Vad vill du ha hjälp med?")


def test_danger_raises_an_open_case_to_urgent(engine):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("hur funkar det?")
    chat.send("jag vill inte leva längre")
    with engine.sessions() as session:
        cases = session.scalars(select(Case)).all()
    assert len(cases) == 1 and cases[0].urgent


def test_ordinary_swedish_is_not_danger(engine):
    chat = started(engine)
    chat.press("Ställ en fråga")
    (received,) = chat.send("Kan vi skjuta upp mötet? Jag sitter och dödar tid.")
    assert received.startswith("Tack! Din fråga har kommit fram.")
    with engine.sessions() as session:
        assert not session.scalar(select(Case.urgent))


def test_danger_is_answered_even_before_a_language_is_chosen(engine):
    chat = started(engine)
    chat.send("/start")
    (reply,) = chat.send("I'm going to kill myself")
    assert "112" in reply
