"""The main menu, and the typed words that reach each flow from anywhere."""

from __future__ import annotations

from handlers.turn import Turn

MENU = (
    ("menu:ask", "menu.ask"),
    ("menu:apply", "menu.apply"),
    ("menu:call", "menu.call"),
    ("menu:relative", "menu.relative"),
    ("menu:about", "menu.about"),
)
BACK = (("menu:show", "menu.back"),)

# Typed words that mean a menu choice, in both languages, matched on the whole (trimmed) message.
INTENTS = {
    "menu:ask": {"fråga", "fraga", "ställ en fråga", "jag har en fråga", "ask", "question", "ask a question"},
    "menu:apply": {"ansök", "ansok", "ansöka", "ansökan", "ansök om stöd", "apply", "application", "apply for support"},
    "menu:call": {"ring mig", "ring", "ringa", "bli uppringd", "call me", "call", "get a call", "phone me"},
    "menu:relative": {"anhörig", "anhorig", "jag är anhörig", "förälder", "mamma", "pappa", "relative", "i am a relative", "parent"},
    "menu:about": {"om", "om sig", "faq", "vanliga frågor", "about", "about sig", "information"},
}
MENU_WORDS = {"meny", "menu", "/meny", "/menu", "menyn", "0"}


def show(turn: Turn) -> None:
    turn.say("menu.prompt", options=MENU)
    turn.goto("menu")


def intent(turn: Turn) -> str | None:
    """The menu choice this turn means, whether pressed, numbered or typed."""
    if turn.choice:
        return turn.choice if turn.choice.startswith("menu:") else None
    for key, words in INTENTS.items():
        if turn.words in words:
            return key
    return None
