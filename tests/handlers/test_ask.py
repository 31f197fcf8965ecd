from sqlalchemy import select

from storage.models import Case, OutboxItem
from tests.handlers.conversation import Chat


def started(engine, language: str = "Svenska", **kwargs) -> Chat:
    chat = Chat(engine, **kwargs)
    chat.send("/start")
    chat.press(language)
    return chat


def test_an_anonymous_question_becomes_a_case_and_the_person_is_told_when(engine):
    chat = started(engine, title="Anonym fråga")
    (prompt,) = chat.press("Ställ en fråga")
    assert "behöver inte skriva namn" in prompt
    received, more = chat.send("Kan man få hjälp med skulder om man har betalningsanmärkningar?")
    assert received.startswith("Tack! Din fråga har kommit fram.")
    assert more == "Vill du något mer?"  # never a dead end: the next step is a button away
    assert chat.labels == ["Till menyn", "Ställ en ny fråga", "Radera mina uppgifter"]
    assert "torsdag 3 december" in received  # two working days after Tuesday 1 December
    assert received.endswith("\nÄr du i fara: ring 112.")  # a receipt always ends with the emergency line
    with engine.sessions() as session:
        case = session.scalar(select(Case))
        assert case.kind == "question" and case.state == "open"
        assert case.summary.startswith("Kan man få hjälp med skulder")
        alert = session.scalar(select(OutboxItem).where(OutboxItem.target == "staff_group"))
        assert case.code in alert.payload and "skulder" in alert.payload


def test_a_question_in_english(engine):
    chat = started(engine, "English", title="Anonymous question (English)")
    chat.press("Ask a question")
    received, more = chat.send("Do I have to tell you my name?")
    assert more == "Anything else?" and chat.labels == ["To the menu", "Ask another question", "Delete my data"]
    assert received.startswith("Thank you! Your question has arrived.")
    assert "Thursday 3 December" in received
    assert received.endswith("\nIf you are in danger: call 112.")


def test_free_text_at_the_menu_can_be_sent_as_a_question(engine):
    chat = started(engine)
    (offer,) = chat.send("jag vet inte riktigt var jag ska börja")
    assert offer.startswith("Vill du skicka det du skrev som en fråga")
    received, _ = chat.press("Ja, skicka")
    assert received.startswith("Tack! Din fråga har kommit fram.")
    with engine.sessions() as session:
        assert session.scalar(select(Case.summary)).startswith("jag vet inte riktigt")


def test_free_text_at_the_menu_can_be_declined(engine):
    chat = started(engine)
    chat.send("bara testar")
    (menu,) = chat.press("Nej, visa menyn")
    assert menu.startswith("Vad vill du göra?")
    with engine.sessions() as session:
        assert session.scalar(select(Case)) is None


def test_a_typed_menu_word_works_everywhere(engine):
    chat = started(engine)
    (prompt,) = chat.send("fråga")
    assert prompt.startswith("Skriv din fråga")
