"""Timed staff work: call reminders and re-alerts, promise warnings and breaches, escalation of urgent cases.

Each timer is a column on the case, set by a compare-and-set UPDATE, so whichever process gets there first acts
and nobody acts twice, however often or from how many processes this runs.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from handlers.catalogue import Catalogue
from handlers.profile import Profile
from storage.models import Case, OutboxItem, Staff
from storage.outbox import queue_to_staff

REMIND_BEFORE = timedelta(minutes=15)
WARN_AT = 0.75


def run_timers(session: Session, catalogue: Catalogue, profile: Profile, now: datetime, *,
               escalate_after: timedelta = timedelta(minutes=5), oncall_phone: str | None = None) -> dict[str, int]:  # fmt: skip
    done = {"reminded": 0, "realerted": 0, "warned": 0, "breached": 0, "escalated": 0}
    open_cases = list(session.scalars(select(Case).where(Case.state != "closed")))
    for case in open_cases:
        if case.kind == "call" and case.due_at:
            if case.state == "claimed" and case.due_at - REMIND_BEFORE <= now < case.due_at and _set(session, case, Case.reminded_at, now):
                holder = session.get(Staff, case.assigned_staff_id)
                name = holder.name if holder else "-"
                _post(session, catalogue, case, now, "staff.timer.remind", name=name, when=_local(profile, case.due_at))
                done["reminded"] += 1
            if case.state == "open" and now >= case.due_at and _set(session, case, Case.realerted_at, now):
                claim = [(f"claim:{case.code}", catalogue.text("sv", "staff.claim"))]
                _post(session, catalogue, case, now, "staff.timer.realert", options=claim)
                done["realerted"] += 1
        elif case.due_at and not _kept(case):
            span = case.due_at - case.created_at
            if now >= case.due_at and _set(session, case, Case.breached_at, now):
                _post(session, catalogue, case, now, "staff.timer.breached", when=_local(profile, case.due_at))
                done["breached"] += 1
            elif now >= case.created_at + span * WARN_AT and now < case.due_at and _set(session, case, Case.warned_at, now):
                _post(session, catalogue, case, now, "staff.timer.warn", when=_local(profile, case.due_at))
                done["warned"] += 1
        if case.urgent and case.acknowledged_at is None and now - case.updated_at >= escalate_after:
            if _escalate(session, case, now, escalate_after):
                _post(session, catalogue, case, now, "staff.timer.escalated",
                      options=[(f"ack:{case.code}", catalogue.text("sv", "staff.ack"))])  # fmt: skip
                if oncall_phone:
                    _sms_oncall(session, catalogue, case, now, oncall_phone)
                done["escalated"] += 1
    return done


def _kept(case: Case) -> bool:
    """Whether what was promised for this kind of case has been done."""
    if case.kind == "question":
        return case.outcome == "answered"
    if case.kind == "application":
        return case.claimed_at is not None
    return case.acknowledged_at is not None


def _set(session: Session, case: Case, column: ColumnElement[datetime | None], now: datetime) -> bool:
    won = session.execute(update(Case).where(Case.id == case.id, column.is_(None)).values({column: now})
                          .execution_options(synchronize_session=False)).rowcount == 1  # fmt: skip
    return won


def _escalate(session: Session, case: Case, now: datetime, every: timedelta) -> bool:
    """Again every `every` until someone acknowledges; compare-and-set on the last escalation time."""
    condition = or_(Case.escalated_at.is_(None), Case.escalated_at <= now - every)
    return session.execute(update(Case).where(Case.id == case.id, Case.acknowledged_at.is_(None), condition)
                           .values(escalated_at=now).execution_options(synchronize_session=False)).rowcount == 1  # fmt: skip


def _post(session: Session, catalogue: Catalogue, case: Case, now: datetime, key: str,
          options: list[tuple[str, str]] | None = None, **values: str) -> None:  # fmt: skip
    text = catalogue.text("sv", key, code=case.code, **values)
    queue_to_staff(session, text=text, now=now, options=options or [], case_id=case.id, contact_id=case.contact_id)


def _sms_oncall(session: Session, catalogue: Catalogue, case: Case, now: datetime, phone: str) -> None:
    """The on-call phone gets the code and nothing else: a lock screen must not tell anyone's story."""
    text = catalogue.text("sv", "staff.timer.oncall_sms", code=case.code)
    session.add(OutboxItem(channel="sms", lane=0, target="address", case_id=case.id, payload=json.dumps({"address": phone, "text": text}),
                           status="pending", attempts=0, next_attempt_at=now, created_at=now))  # fmt: skip


def _local(profile: Profile, at: datetime) -> str:
    return at.astimezone(profile.office_hours.zone).strftime("%d/%m kl. %H.%M")
