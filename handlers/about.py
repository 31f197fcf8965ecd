"""About SIG: answers to common questions from the unit's profile, the wait computed from the real queue."""

from __future__ import annotations

from handlers import menu, office
from handlers.turn import Option, Turn
from storage.models import ConversationState


def begin(turn: Turn) -> None:
    turn.offer(turn.text("about.prompt"), _questions(turn))
    turn.goto(ConversationState.ABOUT)


def receive(turn: Turn) -> None:
    key = (turn.choice or "").removeprefix("faq:")
    entry = next((entry for entry in turn.profile.faq if entry.key == key), None)
    if entry is None:
        begin(turn)
        return
    _, wait_days = office.application_wait(turn)
    turn.offer(turn.profile.text(entry.answer, turn.language, wait=str(wait_days)))
    turn.offer(turn.text("about.more"), _questions(turn))


def _questions(turn: Turn) -> tuple[Option, ...]:
    faq = tuple(Option(f"faq:{entry.key}", turn.profile.text(entry.question, turn.language)) for entry in turn.profile.faq)
    return faq + tuple(Option(key, turn.text(label)) for key, label in menu.BACK)
