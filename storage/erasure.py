"""Erasing a person: everything that identifies them goes; anonymous counts on their cases stay."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from storage.models import Case, ChannelIdentity, Contact, Conversation, Message, OutboxItem


def erase_contact(session: Session, contact_id: str, *, farewell: tuple[str, str, str] | None, now: datetime) -> None:
    """Remove the contact, their identities, transcript, conversation and queued messages; keep their
    cases as type, dates and outcome only. `farewell` is (channel, address, text): one last message,
    queued with the address inside its encrypted payload, which the dispatcher wipes once it is sent."""
    session.execute(
        update(Case).where(Case.contact_id == contact_id)
        .values(contact_id=None, summary=None, notes=None, details=None, updated_at=now)
    )  # fmt: skip
    session.execute(delete(OutboxItem).where(OutboxItem.contact_id == contact_id))
    session.execute(delete(Message).where(Message.contact_id == contact_id))
    session.execute(delete(Conversation).where(Conversation.contact_id == contact_id))
    session.execute(delete(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id))
    session.execute(delete(Contact).where(Contact.id == contact_id))
    if farewell is not None:
        channel, address, text = farewell
        session.add(OutboxItem(
            channel=channel, lane=0, target="address", payload=json.dumps({"address": address, "text": text}),
            status="pending", attempts=0, next_attempt_at=now, created_at=now,
        ))  # fmt: skip
