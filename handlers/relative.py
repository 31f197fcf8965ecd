"""A relative: the same paths as for oneself, marked as a relative's case and worded for them."""

from __future__ import annotations

from handlers import apply, ask, call, menu
from handlers.turn import Turn
from storage.models import ConversationState

OPTIONS = (("relative:ask", "relative.ask"), ("relative:apply", "relative.apply"), ("relative:call", "relative.call"))


def begin(turn: Turn) -> None:
    turn.say("relative.intro", options=OPTIONS + menu.BACK)
    turn.goto(ConversationState.RELATIVE)


def receive(turn: Turn) -> None:
    if turn.choice == "relative:ask":
        ask.begin(turn, relative=True)
    elif turn.choice == "relative:apply":
        apply.begin(turn, relative=True)
    elif turn.choice == "relative:call":
        call.begin(turn, relative=True)
    else:
        begin(turn)
