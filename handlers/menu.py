"""The main menu, and what is offered when a flow ends."""

from __future__ import annotations

from handlers.turn import Turn
from storage.models import ConversationState

MENU = (
    ("menu:ask", "menu.ask"),
    ("menu:apply", "menu.apply"),
    ("menu:call", "menu.call"),
    ("menu:relative", "menu.relative"),
    ("menu:about", "menu.about"),
)
BACK = (("menu:show", "menu.back"),)
NEXT = (("menu:show", "next.menu"), ("menu:ask", "next.ask"), ("next:erase", "next.erase"))

MENU_WORDS = {"meny", "menu", "/meny", "/menu", "menyn", "0"}


def show(turn: Turn) -> None:
    turn.say("menu.prompt", options=MENU)
    turn.goto(ConversationState.MENU)


def chosen(turn: Turn) -> str | None:
    """The menu choice pressed or numbered this turn (typed sentences are read by handlers/typed.py)."""
    return turn.choice if turn.choice and turn.choice.startswith("menu:") else None


def offer_next(turn: Turn) -> None:
    """The end of a flow is never a dead end: what can come next, as buttons (numbered on SMS)."""
    turn.say("next.prompt", options=NEXT)
    turn.goto(ConversationState.MENU, relative=False)
