"""One turn of a conversation: the inbound message, the state it meets, and the replies it leaves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from handlers.catalogue import Catalogue
from storage.models import Contact


@dataclass(frozen=True)
class Inbound:
    """What the person sent, as every channel can express it."""

    kind: str  # text, choice, contact, media
    text: str = ""
    choice: str | None = None
    phone: str | None = None  # a number the person chose to share
    media: str | None = None  # sticker, photo, voice, …


@dataclass(frozen=True)
class Option:
    key: str
    label: str


@dataclass(frozen=True)
class Reply:
    text: str
    options: tuple[Option, ...] = ()
    request_contact: bool = False


@dataclass
class Turn:
    session: Session
    contact: Contact
    inbound: Inbound
    channel: str
    now: datetime
    catalogue: Catalogue
    state: str = "new"
    data: dict[str, Any] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.contact.language or self.catalogue.default_language

    def text(self, key: str, **values: Any) -> str:
        return self.catalogue.text(self.language, key, **values)

    def say(self, key: str, *, options: tuple[tuple[str, str], ...] = (), **values: Any) -> None:
        """Queue a catalogue text; options are (choice key, catalogue key of its label)."""
        rendered = tuple(Option(choice, self.text(label)) for choice, label in options)
        self.replies.append(Reply(self.text(key, **values), rendered))

    def goto(self, state: str) -> None:
        self.state = state
