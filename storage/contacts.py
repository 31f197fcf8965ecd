"""Finding and creating contacts by channel address without storing the address in the clear."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.crypto import active_keyring, normalise_phone
from storage.models import ChannelIdentity, Contact, Conversation

PHONE_CHANNELS = {"sms", "whatsapp"}


def canonical_address(channel: str, address: str) -> str:
    """The form an address is hashed in: E.164 for phone channels, as given otherwise."""
    return normalise_phone(address) if channel in PHONE_CHANNELS else address.strip()


def find_identity(session: Session, channel: str, address: str) -> ChannelIdentity | None:
    digest = active_keyring().lookup_hash(channel, canonical_address(channel, address))
    return session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.channel == channel, ChannelIdentity.address_hash == digest)
    )


def find_or_create_identity(
    session: Session, channel: str, address: str, now: datetime, source: str | None = None
) -> ChannelIdentity:
    """The identity for this address, creating a new pseudonymous contact the first time."""
    canonical = canonical_address(channel, address)
    digest = active_keyring().lookup_hash(channel, canonical)
    query = select(ChannelIdentity).where(ChannelIdentity.channel == channel, ChannelIdentity.address_hash == digest)
    identity = session.scalar(query)
    if identity is not None:
        return identity
    try:
        # A savepoint, so losing a race with a concurrent first message only undoes this insert.
        with session.begin_nested():
            contact = Contact(created_at=now, source=source)
            session.add(contact)
            session.flush()
            session.add(Conversation(contact_id=contact.id, state="new", data="{}", updated_at=now))
            identity = ChannelIdentity(
                contact_id=contact.id, channel=channel, address_hash=digest, address=canonical, created_at=now
            )
            session.add(identity)
            session.flush()
    except IntegrityError:
        identity = session.scalar(query)
        if identity is None:
            raise
    return identity
