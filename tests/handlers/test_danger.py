import json

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
    received, _ = chat.send("Kan vi skjuta upp mötet? Jag sitter och dödar tid.")
    assert received.startswith("Tack! Din fråga har kommit fram.")
    with engine.sessions() as session:
        assert not session.scalar(select(Case.urgent))


def test_danger_is_answered_even_before_a_language_is_chosen(engine):
    chat = started(engine)
    chat.send("/start")
    (reply,) = chat.send("I'm going to kill myself")
    assert "112" in reply


def _staff_posts(engine) -> list[str]:
    with engine.sessions() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.target == "staff_group").order_by(OutboxItem.id)).all()
        return [json.loads(row.payload)["text"] for row in rows]


def test_danger_at_night_says_tonight_and_by_day_does_not(engine, clock):
    chat = started(engine)
    (day,) = chat.send("jag vill dö")
    assert "i natt" not in day and "Vill du prata med någon nu: Mind Självmordslinjen 90101" in day
    clock.advance(hours=12)  # 23:00 in Stockholm
    (night,) = chat.send("jag vill dö")
    assert "Vill du prata med någon i natt: Mind Självmordslinjen 90101" in night


def test_danger_raises_every_open_case_of_the_person(engine):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("hur lång är kön?")
    chat.send("meny")
    chat.press("Ställ en fråga")
    chat.send("kan ni hjälpa med skulder?")
    chat.send("ja har tagit typ 30 tabletter")
    with engine.sessions() as session:
        cases = session.scalars(select(Case).order_by(Case.id)).all()
    assert [(case.kind, case.urgent) for case in cases] == [("question", True), ("question", True)]
    assert sum(post.startswith("AKUT") for post in _staff_posts(engine)) == 1  # one alert, not one per case


def test_a_message_that_might_be_danger_gets_a_question_and_ja_takes_the_urgent_path(engine):
    chat = started(engine, title="Kanske fara: frågan och JA")
    chat.press("Ställ en fråga")
    (question,) = chat.send("de sa att jag har till fredag annars…")
    assert question == "Är du i fara just nu? Svara JA eller NEJ."
    assert chat.labels == ["JA", "NEJ"]
    with engine.sessions() as session:
        case = session.scalar(select(Case))
        assert case.kind == "danger" and not case.urgent and case.check_asked_at is not None
    assert _staff_posts(engine)[-1].startswith(f"KOLLA {case.code}: kanske fara.")
    (reply,) = chat.press("JA")
    assert reply.startswith("Är du i fara just nu? Ring 112.") and "90101" in reply
    with engine.sessions() as session:
        case = session.scalar(select(Case))
        assert case.urgent and case.check_answered_at is not None
    assert _staff_posts(engine)[-1] == f"AKUT {case.code}: fara. Svara nu. Meddelande: de sa att jag har till fredag annars…"
    received, _ = chat.send("hur gör jag nu?")  # they carry on where they were: still writing a question
    assert received.startswith("Tack! Din fråga har kommit fram.")


def test_nej_carries_on_where_the_person_was_and_the_answer_is_no_chatter(engine):
    chat = started(engine, title="Kanske fara: NEJ")
    chat.press("Ställ en fråga")
    chat.send("jag är skyldig dom pengar och de vill ha cash nu")
    received, _ = chat.send("nej")  # typed, not pressed
    assert received.startswith("Tack! Din fråga har kommit fram.")  # the held message became the question
    with engine.sessions() as session:
        cases = session.scalars(select(Case).order_by(Case.id)).all()
        assert [case.kind for case in cases] == ["danger", "question"]
        assert cases[1].summary == "jag är skyldig dom pengar och de vill ha cash nu"
        assert not any(case.urgent for case in cases) and cases[0].check_answered_at is not None
    assert any(post.startswith("KOLLA") and "svarade NEJ" in post for post in _staff_posts(engine))
    assert not any(post.startswith("Ny fråga") and post.endswith(": nej") for post in _staff_posts(engine))


def test_the_answer_on_sms_is_a_number_or_a_word_never_a_menu_choice(engine):
    chat = started(engine, channel="sms", address="+46701234567")
    chat.send("meny")
    (question,) = chat.send("han sa betala innan söndag annars får du se")
    assert question.startswith("Är du i fara just nu? Svara JA eller NEJ.")
    (reply,) = chat.send("1")  # the first option: JA, not the menu's first item
    assert reply.startswith("Är du i fara just nu? Ring 112.")


def test_a_claimed_case_relays_nothing_of_the_question_and_its_answer(engine):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("hur funkar det?")
    with engine.sessions() as session:
        session.scalar(select(Case)).state = "claimed"
        session.commit()
    chat.send("dom varnade mej igår")
    before = len(_staff_posts(engine))
    chat.send("ja")
    posts = _staff_posts(engine)[before:]
    assert len(posts) == 1 and posts[0].startswith("AKUT")  # the danger alert, not "ja" relayed as chatter


def test_the_question_goes_to_every_open_case_and_moves_them_up_the_queue(engine):
    from handlers.desk import queue

    other = started(engine, address="5550999")
    other.press("Ställ en fråga")
    other.send("när öppnar ni?")
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("hur lång är kön?")
    chat.send("ja har en skuld till fel folk")
    with engine.sessions() as session:
        order = [(case.summary, case.check_asked_at is not None) for case in queue(session)]
    assert order == [("hur lång är kön?", True), ("när öppnar ni?", False)]


def test_awkward_input_never_raises_and_danger_in_it_is_still_found(engine):
    chat = started(engine)
    for text in ["", "   ", "😀👍🎉", "🔪🔪🔪", "hej " * 1000, "x" * 4000, "مرحبا hej שלום привет", "\u200b\u202e"]:
        chat.send(text)  # nothing raises, whatever the person sends
    (reply,) = chat.send("мне плохо " + "ja vill inte leva längre 😭")
    assert reply.startswith("Är du i fara just nu? Ring 112.")


def test_danger_while_the_question_is_open_settles_it(engine):
    chat = started(engine)
    chat.send("dom varnade mej igår")  # the question
    (reply,) = chat.send("nu står dom utanför min dörr med kniv")
    assert reply.startswith("Är du i fara just nu? Ring 112.")
    (after,) = chat.send("nej")  # no question open any more: an ordinary message at the menu
    assert after.startswith("Vill du skicka det du skrev som en fråga")
    with engine.sessions() as session:
        case = session.scalar(select(Case))
        assert case.urgent and case.check_answered_at is not None
