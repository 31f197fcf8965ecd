import pytest

from tests.handlers.test_ask import started


@pytest.mark.parametrize(
    ("what", "kwargs", "expected"),
    [
        ("empty", {"text": ""}, "Ditt meddelande var tomt."),
        ("only spaces", {"text": "   \n "}, "Ditt meddelande var tomt."),
        ("zero-width only", {"text": "\u200b\u200d\ufeff"}, "Ditt meddelande var tomt."),
        ("emoji only", {"text": "🙏🙏😢"}, "Vi kan inte tolka bara emojis."),
        ("right-to-left", {"text": "مرحبا، أحتاج مساعدة"}, "Vi kan svenska och engelska."),
        ("sticker", {"kind": "media", "media": "sticker"}, "Vi kan bara läsa text här."),
        ("photo", {"kind": "media", "media": "photo"}, "Vi kan bara läsa text här."),
        ("voice note", {"kind": "media", "media": "voice"}, "Vi kan bara läsa text här."),
    ],
)
def test_input_no_flow_can_use_gets_a_sentence(engine, what, kwargs, expected):
    chat = started(engine)
    chat.press("Ställ en fråga")
    replies = chat.send(**kwargs)
    assert replies and replies[0].startswith(expected), what
    received, _ = chat.send("nu skriver jag min fråga")  # and the flow is still there
    assert received.startswith("Tack!")


def test_a_very_long_message_is_kept_and_the_person_told(engine):
    chat = started(engine)
    chat.press("Ställ en fråga")
    note, received, _ = chat.send("hjälp mig förstå " * 400)
    assert note.startswith("Ditt meddelande var långt.")
    assert received.startswith("Tack!")


def test_zero_width_characters_inside_words_do_not_hide_them(engine):
    chat = started(engine)
    (menu,) = chat.send("me\u200bny")
    assert menu.startswith("Vad vill du göra?")


def test_unknown_choices_never_crash(engine):
    chat = started(engine)
    replies = chat.send("x", kind="choice", choice="no-such-thing")
    assert replies
