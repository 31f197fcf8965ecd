"""Getting a number to call, only by consent: the share button, the sender's own number after a yes, or typed."""

from __future__ import annotations

from sqlalchemy import select

from handlers.turn import Option, Turn
from storage.crypto import normalise_phone
from storage.models import ChannelIdentity, ConversationState

PHONE_CHANNELS = ("sms", "whatsapp")


def ask(turn: Turn, then: str) -> None:
    """Ask for a number; `then` names the flow that continues once data["phone"] is set."""
    turn.data["after_phone"] = then
    if turn.channel == "telegram":
        turn.offer(turn.text("call.number_share"), (Option("phone:share", turn.text("call.share_button")),), request_contact=True)
    elif turn.channel in PHONE_CHANNELS:
        turn.say("call.number_this", options=(("phone:this", "call.this_number"), ("phone:other", "call.other_number")))
    else:
        turn.say("call.number_typed")
    turn.goto(ConversationState.PHONE)


def receive(turn: Turn) -> bool:
    """True when a number is now in data["phone"]; otherwise the person has been asked again."""
    number: str | None = None
    if turn.inbound.kind == "contact" and turn.inbound.phone:
        number = _valid(turn.inbound.phone)
    elif turn.choice == "phone:this" and turn.channel in PHONE_CHANNELS:
        number = _sender_number(turn)
    elif turn.choice == "phone:other":
        turn.say("call.number_typed")
        return False
    elif turn.inbound.text.strip():
        number = _valid(turn.inbound.text)
    if number is None:
        turn.say("call.bad_number")
        return False
    turn.data["phone"] = number
    return True


def _valid(raw: str) -> str | None:
    try:
        return normalise_phone(raw)
    except ValueError:
        return None


def _sender_number(turn: Turn) -> str | None:
    identity = turn.session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.contact_id == turn.contact.id, ChannelIdentity.channel == turn.channel)
    )
    return identity.address if identity else None
