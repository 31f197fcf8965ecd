"""The first conversation: greeting, language choice, what Utväg is and what it stores, then the menu."""

from __future__ import annotations

from handlers import menu, office
from handlers.turn import Turn

LANGUAGE_OPTIONS = (("lang:sv", "language.sv"), ("lang:en", "language.en"))
TYPED_LANGUAGES = {
    "svenska": "sv", "swedish": "sv", "sv": "sv",
    "english": "en", "engelska": "en", "en": "en",
}  # fmt: skip


def greet(turn: Turn) -> None:
    turn.say("start.greeting", options=LANGUAGE_OPTIONS)
    turn.goto("choose_language")


def choose_language(turn: Turn) -> None:
    language = _chosen_language(turn)
    if language is None:
        turn.say("start.choose_again", options=LANGUAGE_OPTIONS)
        return
    turn.contact.language = language
    turn.say("start.intro")
    turn.say("start.privacy", days=office.retention_days(turn))
    office.note_if_closed(turn)
    menu.show(turn)


def _chosen_language(turn: Turn) -> str | None:
    choice = turn.choice or ""
    if choice.startswith("lang:") and choice[5:] in ("sv", "en"):
        return choice[5:]
    return TYPED_LANGUAGES.get(turn.words)
