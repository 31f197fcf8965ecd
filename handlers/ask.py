"""An anonymous question: free text becomes a question case; the answer comes back in the same chat."""

from __future__ import annotations

from handlers import menu, office
from handlers.alerts import alert_staff
from handlers.turn import Turn
from storage.cases import open_case
from storage.models import CaseKind, ConversationState


def begin(turn: Turn, relative: bool = False) -> None:
    turn.say("ask.prompt_relative" if relative else "ask.prompt")
    turn.goto(ConversationState.ASK, relative=relative)


def receive(turn: Turn) -> None:
    if turn.choice or not turn.inbound.text.strip():
        begin(turn, bool(turn.data.get("relative")))
        return
    submit(turn, turn.inbound.text.strip(), bool(turn.data.get("relative")))


def submit(turn: Turn, question: str, relative: bool = False) -> None:
    deadline, day = office.question_deadline(turn)
    case = open_case(turn.session, contact_id=turn.contact.id, kind=CaseKind.QUESTION, now=turn.now, summary=question,
                     relative=relative, due_at=deadline)  # fmt: skip
    alert_staff(turn.session, turn.catalogue, case, "question", turn.now)
    turn.acknowledge("ask.received", deadline=day)
    office.note_if_closed(turn)
    menu.offer_next(turn)
