"""Queuing deliveries: to a person (with a transcript row) or to the staff group, in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Message, OutboxItem


def queue_to_contact(
    session: Session, *, contact_id: str, identity_id: int | None, channel: str, text: str, now: datetime,
    options: Sequence[tuple[str, str]] = (), request_contact: bool = False, lane: int = 0, kind: str | None = None,
    replaces: str | None = None,
) -> OutboxItem:  # fmt: skip
    """A message to a person: written to their transcript and to the outbox. `kind` "danger" sends it first."""
    meta: dict[str, object] = {"options": [list(option) for option in options]} if options else {}
    if request_contact:
        meta["request_contact"] = True
    if replaces:
        meta["replaces"] = replaces  # where the channel can, this updates that message (its buttons) instead
    if kind == "danger":
        meta["danger"] = True  # the web chat shows the danger answer apart, its numbers one tap away
    transcript = Message(
        contact_id=contact_id, identity_id=identity_id, channel=channel, direction="out", kind="text", body=text,
        meta=json.dumps(meta) if meta else None, created_at=now, processed_at=now,
    )  # fmt: skip
    session.add(transcript)
    session.flush()
    item = OutboxItem(
        channel=channel, lane=lane, contact_id=contact_id, identity_id=identity_id, message_id=transcript.id,
        target="contact", status="pending", attempts=0, next_attempt_at=now, created_at=now, kind=kind,
    )  # fmt: skip
    session.add(item)
    return item


def last_reached_on(session: Session, contact_id: str) -> tuple[int | None, str] | None:
    """(identity id, channel) of where the person last wrote from: where an answer should go."""
    row = session.execute(
        select(Message.identity_id, Message.channel).where(Message.contact_id == contact_id, Message.direction == "in")
        .order_by(Message.id.desc()).limit(1)
    ).first()  # fmt: skip
    return (row[0], row[1]) if row else None


ALERT = "alert"  # a staff post about something a person needs: a reply to it answers them
RELAYED = "relayed"  # a staff post carrying what a person wrote: a reply to it answers them
ANSWERABLE = (ALERT, RELAYED)
EDIT = "edit"  # a change to an earlier staff post: a reply to the post is judged by the post's own kind


def queue_to_staff(
    session: Session, *, text: str, now: datetime, options: Sequence[tuple[str, str]] = (), case_id: int | None = None,
    contact_id: str | None = None, lane: int = 0, kind: str | None = None, replaces: str | None = None,
    answers: str | None = None,
) -> OutboxItem:  # fmt: skip
    """A post in the staff group. Tied to the contact, if any, so erasing them removes it too. `kind` says what a
    reply to it may do: only a reply to an ALERT or a RELAYED message of the person reaches them (handlers/desk.py)."""
    payload: dict[str, object] = {"text": text, "options": [list(option) for option in options]}
    if replaces:
        payload["replaces"] = replaces  # an earlier post changed in place (an alert that now says who took it)
    if answers:
        payload["answers"] = answers  # a worker's own command: the post is a reply to it, addressed to them
    item = OutboxItem(
        channel="telegram", lane=lane, target="staff_group", case_id=case_id, contact_id=contact_id, kind=kind,
        payload=json.dumps(payload), status="pending", attempts=0, next_attempt_at=now, created_at=now,
    )  # fmt: skip
    session.add(item)
    return item
