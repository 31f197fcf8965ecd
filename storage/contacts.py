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


def move_identity(session: Session, channel: str, old_address: str, new_address: str) -> bool:
    """Point the identity found by `old_address` at `new_address` instead: the old one opens nothing any more."""
    identity = find_identity(session, channel, old_address)
    if identity is None:
        return False
    _readdress(identity, channel, new_address)
    return True


def set_resume_code(session: Session, channel: str, address: str, code: str) -> bool:
    """Keep a keyed hash of a code that reopens this identity from another device; a new code replaces the old."""
    identity = find_identity(session, channel, address)
    if identity is None:
        return False
    identity.resume_hash = active_keyring().lookup_hash(f"{channel}-resume", code)
    return True


def resume_identity(session: Session, channel: str, code: str, new_address: str) -> bool:
    """The identity whose code this is now answers to `new_address` (and no longer to the device it was on)."""
    digest = active_keyring().lookup_hash(f"{channel}-resume", code)
    identity = session.scalar(select(ChannelIdentity).where(ChannelIdentity.channel == channel, ChannelIdentity.resume_hash == digest))
    if identity is None:
        return False
    _readdress(identity, channel, new_address)
    return True


def _readdress(identity: ChannelIdentity, channel: str, address: str) -> None:
    canonical = canonical_address(channel, address)
    identity.address_hash = active_keyring().lookup_hash(channel, canonical)
    identity.address = canonical
