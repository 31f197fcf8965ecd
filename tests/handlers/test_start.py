from sqlalchemy import select

from storage.models import Contact
from tests.handlers.conversation import Chat


def test_a_new_person_is_greeted_chooses_english_and_gets_the_menu(engine):
    chat = Chat(engine, title="Start (Telegram, English)")
    (greeting,) = chat.send("/start")
    assert greeting.startswith("Hej! Det här är Utväg")
    assert chat.labels == ["Svenska", "English"]
    intro, privacy, menu = chat.press("English")
    assert "We are not the police" in intro
    assert "DELETE" in privacy and "90 days" in privacy
    assert menu.startswith("What would you like to do?")
    assert chat.labels == ["Ask a question", "Apply for support", "Get a call", "I am a relative", "About SIG, common questions"]


def test_swedish_start_by_sms_with_numbers(engine):
    chat = Chat(engine, channel="sms", address="+46701234567", title="Start (SMS, svenska)")
    chat.send("hej")
    intro, privacy, menu = chat.send("1")
    assert "Vi är inte polisen" in intro
    assert "RADERA" in privacy
    assert "Ställ en fråga" in chat.labels


def test_a_typed_language_name_works(engine):
    chat = Chat(engine)
    chat.send("hej")
    assert chat.send("english")[0].startswith("We help you")
    with engine.sessions() as session:
        assert session.scalar(select(Contact.language)) == "en"


def test_an_unclear_answer_to_the_language_question_asks_again_in_both_languages(engine):
    chat = Chat(engine)
    chat.send("hej")
    (again,) = chat.send("vad?")
    assert "svenska" in again and "Swedish" in again
    assert chat.labels == ["Svenska", "English"]


def test_meny_reaches_the_menu_from_anywhere(engine):
    chat = Chat(engine)
    chat.send("/start")
    chat.press("Svenska")
    chat.press("Ansök om stöd")
    (menu,) = chat.send("meny")
    assert menu.startswith("Vad vill du göra?")


def test_start_again_begins_with_the_greeting(engine):
    chat = Chat(engine)
    chat.send("/start")
    chat.press("Svenska")
    (greeting,) = chat.send("/start")
    assert greeting.startswith("Hej!")
