from sqlalchemy import select

from storage.models import Case
from tests.handlers.test_ask import started


def test_a_relative_applies_for_someone_close(engine):
    chat = started(engine, title="Anhörig ansöker")
    (intro,) = chat.press("Jag är anhörig")
    assert "Anhöriga kan också få stöd" in intro
    (eligible,) = chat.press("Ansöka för någon")
    assert eligible == "Är personen 18-29 år och bor i Hässelby-Vällingby?"
    (needs,) = chat.press("Ja")
    assert needs.startswith("Vad behöver personen hjälp med?")
    chat.press("Alkohol eller droger")
    (summary,) = chat.press("Klar")
    assert "Gäller: någon som står dig nära" in summary
    chat.press("Skicka")
    with engine.sessions() as session:
        case = session.scalar(select(Case))
    assert case.kind == "application" and case.relative


def test_a_relative_asks_a_question(engine):
    chat = started(engine)
    chat.press("Jag är anhörig")
    (prompt,) = chat.press("Ställa en fråga")
    assert "behöver inte skriva vem det gäller" in prompt
    chat.send("Min son säljer och jag är orolig")
    with engine.sessions() as session:
        case = session.scalar(select(Case))
    assert case.kind == "question" and case.relative


def test_someone_close_chosen_in_the_application_is_a_relatives_case(engine):
    chat = started(engine, "English")
    chat.press("Apply for support")
    chat.press("Someone close to me")
    (eligible,) = chat.press("Yes")
    assert eligible.startswith("What does the person need")
