"""A conversation driven through the real engine and database, read back as the person sees it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.channels.base import InboundMessage
from bot.engine import Engine
from handlers.turn import Inbound
from storage.models import Message

TRANSCRIPTS: dict[str, list[tuple[str, str]]] = {}  # title -> [(who, text)], for docs/conversations.md


@dataclass
class Chat:
    engine: Engine
    channel: str = "telegram"
    address: str = "5550100"
    title: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)  # the last offered (key, label)
    sent: int = 0
    contact_id: str | None = None
    _counter: int = 0

    def __post_init__(self) -> None:
        if self.title is not None:
            TRANSCRIPTS[self.title] = []  # the last run of a test (SQLite or PostgreSQL) is the one documented

    def send(self, text: str = "", *, kind: str = "text", choice: str | None = None, phone: str | None = None,
             media: str | None = None) -> list[str]:  # fmt: skip
        """What the person writes; returns the texts that came back."""
        self._counter += 1
        self.sent += 1
        content = Inbound(kind=kind, text=text, choice=choice, phone=phone, media=media)
        provider_id = f"{self.address}-{self._counter}"
        accepted = self.engine.accept(InboundMessage(self.channel, provider_id, self.address, content))
        self.contact_id = accepted.contact_id
        with self.engine.sessions() as session:
            last_in = session.scalar(select(Message.id).where(Message.provider_id == provider_id, Message.channel == self.channel))
        self.engine.process_pending()
        replies = self._replies_after(last_in) if last_in else []
        self._record("person", text or (f"[{kind}]" if kind != "choice" else ""), replies)
        return [text for text, _ in replies]

    def press(self, label: str) -> list[str]:
        """Press the button with this label (on SMS: answer with its number)."""
        for number, (key, option_label) in enumerate(self.options, start=1):
            if option_label == label:
                if self.channel in ("sms", "whatsapp"):
                    return self.send(str(number))
                return self.send(label, kind="choice", choice=key)
        raise AssertionError(f"no option {label!r}; offered: {[label for _, label in self.options]}")

    @property
    def labels(self) -> list[str]:
        return [label for _, label in self.options]

    def _replies_after(self, message_id: int) -> list[tuple[str, list[tuple[str, str]]]]:
        with self.engine.sessions() as session:
            rows = session.scalars(select(Message).where(Message.id > message_id, Message.direction == "out",
                                                         Message.channel == self.channel).order_by(Message.id)).all()  # fmt: skip
            replies = []
            for row in rows:
                if self.contact_id and row.contact_id != self.contact_id:
                    continue
                options = [tuple(option) for option in json.loads(row.meta or "{}").get("options", [])]
                replies.append((row.body or "", options))
        for _, options in replies:
            self.options = options  # type: ignore[assignment]
        if replies and not replies[-1][1]:
            self.options = []
        return replies  # type: ignore[return-value]

    def _record(self, who: str, text: str, replies: list[tuple[str, list[tuple[str, str]]]]) -> None:
        if self.title is None:
            return
        lines = TRANSCRIPTS.setdefault(self.title, [])
        if text:
            lines.append((who, text))
        for reply, options in replies:
            lines.append(("utväg", reply + ("".join(f"\n[{label}]" for _, label in options))))
