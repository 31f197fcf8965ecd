"""Reading a contact's transcript back: what a person said and what was delivered to them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.models import Message, OutboxItem


@dataclass(frozen=True)
class Line:
    id: int
    direction: str
    text: str
    options: list[list[str]]
    danger: bool = False  # the answer to someone in danger


def delivered_lines(session: Session, identity_id: int, after: int = 0, limit: int = 200) -> list[Line]:
    """The person's own messages and the replies already delivered, in order, after a message id."""
    rows = session.execute(
        select(Message)
        .outerjoin(OutboxItem, OutboxItem.message_id == Message.id)
        .where(Message.identity_id == identity_id, Message.id > after, Message.kind != "start")
        .where(or_(Message.direction == "in", OutboxItem.status == "sent"))
        .order_by(Message.id)
        .limit(limit)
    ).scalars()
    lines = []
    for message in rows:
        meta = json.loads(message.meta or "{}")
        lines.append(Line(message.id, message.direction, message.body or "", meta.get("options", []), bool(meta.get("danger"))))
    return lines
