"""The nightly purge: what the profile says may not be kept any longer is erased, and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from handlers.profile import Profile
from storage.erasure import erase_contact
from storage.models import Case, CaseKind, CaseState, Contact, Message, OutboxItem

SENT_PAYLOAD_DAYS = 7  # a staff alert's text is needed while it is read, not for months


def purge(session: Session, profile: Profile, now: datetime) -> dict[str, int]:
    keep = profile.retention
    done = {"stopped_contacts": 0, "inactive_questions": 0, "message_bodies": 0, "payloads": 0}
    # People who opted out a while ago: everything about them goes.
    for contact_id in session.scalars(select(Contact.id).where(Contact.stopped_at < now - timedelta(days=keep.stopped_contact_days))):
        erase_contact(session, contact_id, farewell=None, now=now)
        done["stopped_contacts"] += 1
    # Anonymous questions with no activity: the person behind them goes (their cases stay as counts).
    quiet_since = now - timedelta(days=keep.inactive_question_days)
    other_work = exists().where(Case.contact_id == Contact.id, or_(Case.kind != CaseKind.QUESTION, Case.state != CaseState.CLOSED))
    idle = select(Contact.id).where(
        or_(Contact.last_inbound_at < quiet_since, and_(Contact.last_inbound_at.is_(None), Contact.created_at < quiet_since)),
        exists().where(Case.contact_id == Contact.id, Case.kind == CaseKind.QUESTION), ~other_work,
    )  # fmt: skip
    for contact_id in session.scalars(idle):
        erase_contact(session, contact_id, farewell=None, now=now)
        done["inactive_questions"] += 1
    # Message bodies past retention: the rows stay for counting, the words go.
    old = now - timedelta(days=keep.message_days)
    done["message_bodies"] = session.execute(
        update(Message).where(Message.created_at < old, or_(Message.body.is_not(None), Message.meta.is_not(None)))
        .values(body=None, meta=None)
    ).rowcount  # fmt: skip
    done["payloads"] = session.execute(
        update(OutboxItem).where(OutboxItem.status != "pending", OutboxItem.created_at < now - timedelta(days=SENT_PAYLOAD_DAYS),
                                 OutboxItem.payload.is_not(None)).values(payload=None)
    ).rowcount  # fmt: skip
    session.execute(delete(OutboxItem).where(OutboxItem.target == "address", OutboxItem.status != "pending",
                                             OutboxItem.created_at < old))  # fmt: skip
    return done
