"""The first conversation: greeting, language (from the first words when they are plain), what Utväg is and stores."""

from __future__ import annotations

from handlers import menu, office, typed
from handlers.language import plain_language
from handlers.turn import Turn
from storage.models import ConversationState

LANGUAGE_OPTIONS = (("lang:sv", "language.sv"), ("lang:en", "language.en"))
TYPED_LANGUAGES = {
    "svenska": "sv", "swedish": "sv", "sv": "sv",
    "english": "en", "engelska": "en", "en": "en",
}  # fmt: skip
# Typed at any step after the start: the conversation goes on in that language.
SWITCH_WORDS = {
    "svenska": "sv", "swedish": "sv", "på svenska": "sv", "in swedish": "sv",
    "english": "en", "engelska": "en", "på engelska": "en", "in english": "en",
}  # fmt: skip


def greet(turn: Turn) -> None:
    if turn.inbound.kind == "text" and turn.words != "/start":
        language = TYPED_LANGUAGES.get(turn.words) or plain_language(turn.inbound.text)
        if language is not None:  # "kan någon ringa mig": Swedish, and a wish for a call
            _welcome(turn, language, read=turn.words not in TYPED_LANGUAGES)
            return
    turn.say("start.greeting", options=LANGUAGE_OPTIONS)
    turn.goto(ConversationState.CHOOSE_LANGUAGE)


def choose_language(turn: Turn) -> None:
    language = _chosen_language(turn)
    if language is not None:
        _welcome(turn, language, read=False)
        return
    language = plain_language(turn.inbound.text) if turn.inbound.kind == "text" else None
    if language is None:
        turn.say("start.choose_again", options=LANGUAGE_OPTIONS)
        return
    _welcome(turn, language, read=True)


def switch_language(turn: Turn) -> bool:
    """ "english" or "svenska" typed, or the web chat's switch pressed, at any step: the conversation changes language."""
    choice = turn.choice or ""
    language = choice[5:] if choice.startswith("lang:") else SWITCH_WORDS.get(turn.words) if not choice else None
    if language not in ("sv", "en"):
        return False
    turn.contact.language = language
    turn.say("language.changed")
    menu.show(turn)
    return True


def _welcome(turn: Turn, language: str, *, read: bool) -> None:
    """Who we are and what we store; then what their first words asked for, or the menu."""
    turn.contact.language = language
    turn.say("start.intro")
    turn.say("start.privacy", days=office.retention_days(turn))
    office.note_if_closed(turn)
    turn.goto(ConversationState.MENU)
    if not (read and typed.route(turn)):
        menu.show(turn)


def _chosen_language(turn: Turn) -> str | None:
    choice = turn.choice or ""
    if choice.startswith("lang:") and choice[5:] in ("sv", "en"):
        return choice[5:]
    return TYPED_LANGUAGES.get(turn.words)
