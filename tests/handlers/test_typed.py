import json

from sqlalchemy import select

from storage.models import Case, Contact
from tests.handlers.conversation import Chat
from tests.handlers.test_ask import started


def test_a_call_asked_for_at_the_language_question_sets_swedish_and_starts_the_call(engine):
    chat = Chat(engine, title="Första orden: kan någon ringa mig")
    chat.send("/start")
    intro, privacy, windows = chat.send("kan någon ringa mig")
    assert "Vi är inte polisen" in intro and "RADERA" in privacy
    assert windows == "När kan vi ringa dig? Välj en tid."
    with engine.sessions() as session:
        assert session.scalar(select(Contact.language)) == "sv"


def test_a_first_sms_asking_for_a_call_tomorrow_keeps_the_wish_for_the_caller(engine):
    chat = Chat(engine, channel="sms", address="+46701234599", title="Första SMS:et: ring mig imorgon")
    intro, privacy, windows = chat.send("kan ni ringa mig imorgon efter 3")
    assert windows.startswith("När kan vi ringa dig?")
    chat.send("2")
    confirmed, more = chat.press("Ja, det numret")
    assert confirmed.startswith("Klart! Vi ringer dig")
    assert more == "Vill du något mer?"
    with engine.sessions() as session:
        case = session.scalar(select(Case))
    assert json.loads(case.details)["wrote"] == "kan ni ringa mig imorgon efter 3"
    assert "imorgon efter 3" in case.summary


def test_an_english_first_message_sets_english(engine):
    chat = Chat(engine, channel="sms", address="+46701234598")
    intro, _, windows = chat.send("can someone call me pls")
    assert "We are not the police" in intro
    assert windows.startswith("When can we call you?")


def test_a_greeting_alone_still_gets_the_language_question(engine):
    chat = Chat(engine)
    (greeting,) = chat.send("hej")
    assert greeting.startswith("Hej! Det här är Utväg") and chat.labels == ["Svenska", "English"]


def test_at_the_menu_a_sentence_about_applying_starts_the_application(engine):
    chat = started(engine, title="Skrivet vid menyn: hur ansöker man")
    (who,) = chat.send("hur ansoker man")
    assert who == "Vem gäller det?"
    (eligible,) = chat.send("min son")  # typed, not pressed
    assert eligible == "Är personen 18-29 år och bor i Hässelby-Vällingby?"


def test_a_wish_for_help_with_a_need_keeps_what_was_written_and_chooses_that_need(engine):
    chat = started(engine, title="Skrivet vid menyn: hjälp med kronofogden")
    chat.send("jag behover hjalp med kronofogden")
    chat.press("Mig själv")
    (needs,) = chat.press("Ja")
    assert needs.startswith("Valt: skulder.")
    assert "✓ Skulder" in chat.labels
    chat.press("Klar")
    chat.press("Skicka")
    with engine.sessions() as session:
        case = session.scalar(select(Case))
    assert json.loads(case.details)["wrote"] == "jag behover hjalp med kronofogden"
    assert json.loads(case.details)["needs"] == ["debts"]


def test_a_parent_writing_about_their_son_gets_what_relatives_can_do(engine):
    chat = started(engine, title="Skrivet vid menyn: min son behöver hjälp")
    (intro,) = chat.send("min son behover hjalp")
    assert "Anhöriga kan också få stöd" in intro


def test_a_typed_question_is_sent_as_written(engine):
    chat = started(engine)
    received, _ = chat.send("jag undrar om ni kan hjälpa till med körkort")
    assert received.startswith("Tack! Din fråga har kommit fram.")
    with engine.sessions() as session:
        assert session.scalar(select(Case.summary)) == "jag undrar om ni kan hjälpa till med körkort"


def test_an_unsure_message_gets_one_short_question_and_yes_goes_there(engine):
    chat = started(engine, title="Osäkert: en kort fråga")
    (question,) = chat.send("ring inte mig före lunch")
    assert question == "Vill du att vi ringer dig?"
    assert chat.labels == ["Ja", "Nej, visa menyn"]
    (windows,) = chat.press("Ja")
    assert windows.startswith("När kan vi ringa dig?")


def test_no_to_the_short_question_shows_the_menu(engine):
    chat = started(engine)
    chat.send("ring inte mig före lunch")
    (menu,) = chat.press("Nej, visa menyn")
    assert menu.startswith("Vad vill du göra?")


def test_in_the_middle_of_an_application_a_call_can_be_asked_for(engine):
    chat = started(engine)
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    chat.press("Ja")
    (windows,) = chat.send("kan ni ringa mig istället")
    assert windows.startswith("När kan vi ringa dig?")


def test_inside_the_question_flow_a_sentence_is_the_question_not_a_wish(engine):
    chat = started(engine)
    chat.press("Ställ en fråga")
    received, _ = chat.send("kan ni ringa mig om jag inte svarar här?")
    assert received.startswith("Tack! Din fråga har kommit fram.")


def test_english_switches_the_conversation_at_any_step(engine):
    chat = started(engine, title="Byta språk mitt i")
    chat.press("Ansök om stöd")
    changed, menu = chat.send("english")
    assert changed == "We will write in English now." and menu.startswith("What would you like to do?")
    changed, menu = chat.send("svenska")
    assert changed == "Nu skriver vi på svenska." and menu.startswith("Vad vill du göra?")
    with engine.sessions() as session:
        assert session.scalar(select(Contact.language)) == "sv"


def test_the_web_chats_language_switch_changes_the_conversation(engine):
    chat = started(engine, channel="webchat", address="visitor-token-abcdefghijklmnop")
    changed, _ = chat.send("English", kind="choice", choice="lang:en")
    assert changed == "We will write in English now."
    with engine.sessions() as session:
        assert session.scalar(select(Contact.language)) == "en"


def test_erase_is_one_press_away_after_a_question(engine):
    chat = started(engine, channel="sms", address="+46701234597")
    chat.press("Ställ en fråga")
    chat.send("hur lång tid tar det")
    (confirm,) = chat.send("3")
    assert confirm.startswith("Vill du att vi raderar allt")


def test_odd_choices_and_texts_never_crash_and_always_answer(engine):
    chat = started(engine)
    for send in ({"kind": "choice", "choice": "typed:nonsense", "text": "x"}, {"kind": "choice", "choice": "lang:xx", "text": "x"},
                 {"kind": "choice", "choice": "typed:call", "text": "x"}, {"text": "ring " * 900}, {"text": "привет как дела"},
                 {"text": "\x00 ring mig \x01"}):  # fmt: skip
        assert chat.send(**send), send


def test_a_first_message_in_another_script_gets_the_language_question(engine):
    chat = Chat(engine, channel="sms", address="+46701234596")
    (greeting,) = chat.send("привет как дела")
    assert greeting.startswith("Hej! Det här är Utväg")
