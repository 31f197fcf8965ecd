"""Erasing oneself: one word, a confirmation, then nothing left that points to the person."""

from __future__ import annotations

from sqlalchemy import select

from handlers import menu
from handlers.turn import Turn
from storage.erasure import erase_contact
from storage.models import ChannelIdentity, ConversationState, Message

WORDS = {"radera", "/radera", "radera mig", "delete", "/delete", "delete me", "erase", "/erase"}
YES = {"ja", "ja radera", "ja, radera", "yes", "yes erase", "yes, erase"}


def asked(turn: Turn) -> bool:
    return turn.words in WORDS


def begin(turn: Turn) -> None:
    turn.data["before_erase"] = turn.state
    turn.say("erase.confirm", options=(("erase:yes", "erase.yes"), ("erase:no", "erase.no")))
    turn.goto(ConversationState.ERASE_CONFIRM)


def confirm(turn: Turn) -> None:
    if turn.choice == "erase:yes" or turn.words in YES:
        _erase(turn)
        return
    turn.say("erase.kept")
    menu.show(turn)


def _erase(turn: Turn) -> None:
    """Everything goes, in this transaction. The goodbye is addressed to where they wrote from."""
    inbound = turn.session.scalar(
        select(Message).where(Message.contact_id == turn.contact.id, Message.direction == "in").order_by(Message.id.desc()).limit(1)
    )
    farewell = None
    if inbound is not None and inbound.identity_id is not None:
        identity = turn.session.get(ChannelIdentity, inbound.identity_id)
        if identity is not None:
            farewell = (identity.channel, identity.address, turn.text("erase.done"))
    erase_contact(turn.session, turn.contact.id, farewell=farewell, now=turn.now)
    turn.erased = True  # the engine saves no state and queues no reply for a contact that is gone
