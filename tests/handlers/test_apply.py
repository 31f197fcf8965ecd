import json

from sqlalchemy import select

from storage.models import Case
from tests.handlers.test_ask import started


def test_the_common_path_takes_six_messages_and_gives_an_honest_wait(engine):
    chat = started(engine, title="Ansökan om stöd")
    chat.sent = 0
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    (needs,) = chat.press("Ja")
    assert needs.startswith("Vad vill du ha hjälp med?")
    (chosen,) = chat.press("Boende")
    assert chosen.startswith("Valt: boende.")
    (summary,) = chat.press("Klar")
    assert "Gäller: dig" in summary and "Hjälp med: boende" in summary and "Vi hör av oss: Här i chatten" in summary
    received, more = chat.press("Skicka")
    assert more == "Vill du något mer?" and "Till menyn" in chat.labels
    assert received == ("Tack. Din ansökan är mottagen. Just nu är väntetiden ungefär 14 dagar. Vi hör av oss här i chatten.\n"
                        "Är du i fara: ring 112.")
    assert chat.sent <= 6
    with engine.sessions() as session:
        case = session.scalar(select(Case))
    assert case.kind == "application" and not case.relative
    assert json.loads(case.details)["needs"] == ["housing"]
    assert case.due_at is not None


def test_on_sms_several_needs_can_be_typed_at_once(engine):
    chat = started(engine, channel="sms", address="+46701234568")
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    chat.press("Ja")
    (summary,) = chat.send("1 3 5")
    assert "Hjälp med: boende, skulder, säkerhet eller hot" in summary


def test_a_need_pressed_twice_is_taken_back(engine):
    chat = started(engine)
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    chat.press("Ja")
    chat.press("Skulder")
    chat.press("Familj")
    (removed,) = chat.press("✓ Skulder")  # chosen needs are marked on their buttons
    assert removed.startswith("Du tog bort skulder. Valt: familj.")
    assert "Skulder" in chat.labels and "✓ Familj" in chat.labels


def test_done_with_nothing_chosen_asks_for_one(engine):
    chat = started(engine)
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    chat.press("Ja")
    (missing,) = chat.press("Klar")
    assert missing.startswith("Välj minst en sak")


def test_under_18_gets_an_honest_referral_and_the_menu(engine):
    chat = started(engine, title="Ansökan: under 18")
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    referral, menu = chat.press("Under 18 år")
    assert referral.startswith("Vi arbetar med dig som är 18-29.")
    assert len(referral) > 60
    assert menu.startswith("Vad vill du göra?")
    with engine.sessions() as session:
        assert session.scalar(select(Case)) is None


def test_outside_the_area_gets_a_referral(engine):
    chat = started(engine)
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    referral, _ = chat.press("Bor någon annanstans")
    assert referral.startswith("Vi arbetar i Hässelby-Vällingby.")


def test_changing_to_a_phone_call_asks_for_a_number_and_good_times(engine):
    chat = started(engine, channel="webchat", address="visitor-token-abcdefghijklmnop", title="Ansökan: ring mig")
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    chat.press("Ja")
    chat.press("Skulder")
    chat.press("Klar")
    chat.press("Ändra kontaktsätt")
    (number,) = chat.press("Ring mig")
    assert number.startswith("Skriv numret")
    (bad,) = chat.send("inget nummer")
    assert bad.startswith("Det ser inte ut som ett telefonnummer")
    (times,) = chat.send("070-123 45 67")
    assert times.startswith("När passar det bäst?")
    (summary,) = chat.send("vardagar efter 15")
    assert "Vi hör av oss: Ring mig" in summary
    received, _ = chat.press("Skicka")
    assert received.endswith("Vi hör av oss i telefon.\nÄr du i fara: ring 112.")
    with engine.sessions() as session:
        details = json.loads(session.scalar(select(Case.details)))
    assert details == {"needs": ["debts"], "contact_way": "phone", "times": "vardagar efter 15", "phone": "+46701234567"}


def test_an_application_in_english(engine):
    chat = started(engine, "English", title="Application (English)")
    chat.press("Apply for support")
    chat.press("Myself")
    chat.press("Yes")
    chat.press("Income or work")
    chat.press("Done")
    received, _ = chat.press("Send")
    assert received.startswith("Thank you. Your application has arrived. Right now the wait is about 14 days.")


def test_on_sms_the_text_names_the_chosen_needs_and_the_numbers_stay_plain(engine):
    chat = started(engine, channel="sms", address="+46701234569")
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    chat.press("Ja")
    (chosen,) = chat.send("1")
    assert chosen.startswith("Valt: boende.")
    assert chat.labels[0] == "Boende"  # no mark: it would make the SMS two segments
    (removed,) = chat.send("1")
    assert removed.startswith("Du tog bort boende. Valt: -.")
