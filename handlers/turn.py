"""One turn of a conversation: the inbound message, the state it meets, and the replies it leaves."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from handlers.catalogue import Catalogue
from storage.models import Contact, ConversationState

if TYPE_CHECKING:
    from handlers.profile import Profile

Options = tuple[tuple[str, str], ...]  # (choice key, catalogue key of its label)
MAX_TEXT = 4000
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")


def clean(text: str) -> str:
    """NFC, no zero-width or direction marks, at most MAX_TEXT characters."""
    return INVISIBLE.sub("", unicodedata.normalize("NFC", text)).strip()[:MAX_TEXT]


@dataclass(frozen=True)
class Inbound:
    """What the person sent, as every channel can express it."""

    kind: str  # text, choice, contact, media, start
    text: str = ""
    choice: str | None = None
    phone: str | None = None  # a number the person chose to share
    media: str | None = None  # sticker, photo, voice, …
    pressed: str | None = None  # the provider's id of the message whose button was pressed (Telegram), to edit it


@dataclass(frozen=True)
class Option:
    key: str
    label: str


@dataclass(frozen=True)
class Reply:
    text: str
    options: tuple[Option, ...] = ()
    request_contact: bool = False
    replaces: str | None = None  # the provider's id of a message this one updates in place (its buttons), where it can


@dataclass
class Turn:
    session: Session
    contact: Contact
    inbound: Inbound
    channel: str
    now: datetime
    catalogue: Catalogue
    profile: Profile
    state: str = ConversationState.NEW
    data: dict[str, Any] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    erased: bool = False
    urgent: bool = False  # danger was detected this turn
    asked: bool = False  # this turn asks "Är du i fara just nu?": answered even in a flood, like danger

    @property
    def language(self) -> str:
        return self.contact.language or self.catalogue.default_language

    @property
    def choice(self) -> str | None:
        return self.inbound.choice

    @property
    def words(self) -> str:
        """The typed text, trimmed and lower-cased, for matching typed answers."""
        return " ".join(clean(self.inbound.text).split()).lower().strip(".!?")

    def text(self, key: str, **values: Any) -> str:
        return self.catalogue.text(self.language, key, **values)

    def say(self, key: str, *, options: Options = (), **values: Any) -> None:
        """Queue a catalogue text; options are (choice key, catalogue key of its label)."""
        self.offer(self.text(key, **values), tuple(Option(choice, self.text(label)) for choice, label in options))

    def acknowledge(self, key: str, *, options: Options = (), **values: Any) -> None:
        """A receipt for something the person typed ends with the emergency line: danger triage missed still meets 112."""
        text = self.text(key, **values)
        line = self.text("safety.line")
        self.offer(text if text.endswith(line) else f"{text}\n{line}", tuple(Option(choice, self.text(label)) for choice, label in options))

    def offer(self, text: str, options: tuple[Option, ...] = (), request_contact: bool = False, replaces: str | None = None) -> None:
        """Queue a text with ready-made options; remembers them so "2" or a typed label picks one."""
        self.replies.append(Reply(text, options, request_contact, replaces))
        self.data["_offered"] = [[option.key, option.label] for option in options]

    def goto(self, state: str, **data: Any) -> None:
        self.state = state
        self.data.update(data)
