"""Routes a turn to the flow its conversation is in."""

from __future__ import annotations

from collections.abc import Callable

from handlers import start
from handlers.turn import Turn

Flow = Callable[[Turn], None]
COMMANDS = {"/start", "start", "meny", "menu", "/meny", "/menu"}


def ready(turn: Turn) -> None:
    turn.say("ready.received")


FLOWS: dict[str, Flow] = {
    "new": start.greet,
    "choose_language": start.choose_language,
    "ready": ready,
}


def respond(turn: Turn) -> None:
    """Run the flow for this turn; replies and the next state are left on the turn."""
    if turn.inbound.kind == "start" or turn.inbound.text.strip().lower() == "/start":
        start.greet(turn)
        return
    FLOWS.get(turn.state, start.greet)(turn)
