"""Timed staff work: call reminders and re-alerts, promise warnings and breaches, escalation of urgent cases.

Each timer is a column on the case, set by a compare-and-set UPDATE, so whichever process gets there first acts
and nobody acts twice, however often or from how many processes this runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from handlers.catalogue import Catalogue
from handlers.danger import CHECK_ANSWER_WITHIN
from handlers.profile import Profile
from storage.models import Case, CaseKind, CaseState, OutboxItem, Outcome, Staff
from storage.outbox import ALERT, queue_to_staff

REMIND_BEFORE = timedelta(minutes=15)
WARN_AT = 0.75
CHUNK = 500  # cases loaded at a time, should many timers be live at once


def run_timers(session: Session, catalogue: Catalogue, profile: Profile, now: datetime, *,
               escalate_after: timedelta = timedelta(minutes=5), oncall_phone: str | None = None) -> dict[str, int]:  # fmt: skip
    done = {"reminded": 0, "realerted": 0, "warned": 0, "breached": 0, "escalated": 0, "unanswered": 0}
    for case in _live(session, now, escalate_after):
        if _check_unanswered(case, now) and _set(session, case, Case.check_alerted_at, now):
            _raise_unanswered(session, case, now)
            _post(session, catalogue, case, now, "staff.timer.check_unanswered",
                  options=[(f"ack:{case.code}", catalogue.text("sv", "staff.ack"))])  # fmt: skip
            done["unanswered"] += 1
            continue
        if case.kind == CaseKind.CALL and case.due_at:
            due_soon = case.due_at - REMIND_BEFORE <= now < case.due_at
            if case.state == CaseState.CLAIMED and due_soon and _set(session, case, Case.reminded_at, now):
                holder = session.get(Staff, case.assigned_staff_id)
                name = holder.name if holder else "-"
                _post(session, catalogue, case, now, "staff.timer.remind", name=name, when=_local(profile, case.due_at))
                done["reminded"] += 1
            if case.state == CaseState.OPEN and now >= case.due_at and _set(session, case, Case.realerted_at, now):
                claim = [(f"claim:{case.code}", catalogue.text("sv", "staff.claim"))]
                _post(session, catalogue, case, now, "staff.timer.realert", options=claim)
                done["realerted"] += 1
        elif case.due_at and not promise_kept(case):
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


def _live(session: Session, now: datetime, escalate_after: timedelta) -> Iterator[Case]:
    """The open cases some timer below may act on now, by id, a chunk at a time.

    Only their ids are read first (all other cases, the enrolled participants above all, are never loaded), then the
    cases in chunks, so neither a crowd of live timers nor the UPDATEs between them meet a half-read result."""
    condition = _may_act(now, escalate_after)
    ids = session.scalars(select(Case.id).where(condition).order_by(Case.id)).all()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        yield from session.scalars(select(Case).where(Case.id.in_(chunk), condition).order_by(Case.id)).all()


def _may_act(now: datetime, escalate_after: timedelta) -> ColumnElement[bool]:
    """The conditions of run_timers in SQL, each with the IS NULL its compare-and-set needs. All are exact but the
    warning's moment (75 % of created_at → due_at, two columns): any unkept promise not yet due and not yet warned
    is read, and Python decides."""
    call = and_(Case.kind == CaseKind.CALL, Case.due_at.is_not(None), or_(
        and_(Case.state == CaseState.CLAIMED, Case.reminded_at.is_(None), Case.due_at > now, Case.due_at <= now + REMIND_BEFORE),
        and_(Case.state == CaseState.OPEN, Case.realerted_at.is_(None), Case.due_at <= now),
    ))  # fmt: skip
    promise = and_(Case.kind != CaseKind.CALL, Case.due_at.is_not(None), _not_kept(), or_(
        and_(Case.breached_at.is_(None), Case.due_at <= now),
        and_(Case.warned_at.is_(None), Case.due_at > now),
    ))  # fmt: skip
    unanswered = and_(Case.check_asked_at.is_not(None), Case.check_asked_at <= now - CHECK_ANSWER_WITHIN,
                      Case.check_answered_at.is_(None), Case.check_alerted_at.is_(None))  # fmt: skip
    escalation = and_(Case.urgent.is_(True), Case.acknowledged_at.is_(None), Case.updated_at <= now - escalate_after,
                      or_(Case.escalated_at.is_(None), Case.escalated_at <= now - escalate_after))  # fmt: skip
    return and_(Case.state != CaseState.CLOSED, or_(call, promise, escalation, unanswered))


def _check_unanswered(case: Case, now: datetime) -> bool:
    """Asked "Är du i fara just nu?" ten minutes ago and no JA or NEJ since."""
    asked = case.check_asked_at
    return asked is not None and now - asked >= CHECK_ANSWER_WITHIN and case.check_answered_at is None and case.check_alerted_at is None


def _raise_unanswered(session: Session, case: Case, now: datetime) -> None:
    """Silence after the question counts as danger: every open case of the person becomes urgent, alerted once."""
    session.execute(update(Case).where(Case.contact_id == case.contact_id, Case.contact_id.is_not(None), Case.state != CaseState.CLOSED,
                                       Case.id != case.id, Case.check_alerted_at.is_(None), Case.check_asked_at.is_not(None))
                    .values(check_alerted_at=now).execution_options(synchronize_session=False))  # fmt: skip
    for other in (case, *session.scalars(select(Case).where(Case.contact_id == case.contact_id, Case.contact_id.is_not(None),
                                                             Case.state != CaseState.CLOSED))):  # fmt: skip
        other.urgent = True
        other.acknowledged_at = None
        other.updated_at = now  # escalation to the on-call phone counts from here


def _not_kept() -> ColumnElement[bool]:
    """`not promise_kept(case)` in SQL."""
    return or_(
        and_(Case.kind == CaseKind.QUESTION, or_(Case.outcome.is_(None), Case.outcome != Outcome.ANSWERED)),
        and_(Case.kind == CaseKind.APPLICATION, Case.claimed_at.is_(None)),
        and_(Case.kind.not_in((CaseKind.QUESTION, CaseKind.APPLICATION)), Case.acknowledged_at.is_(None)),
    )


def promise_kept(case: Case) -> bool:
    """Whether what was promised for this kind of case has been done."""
    if case.kind == CaseKind.QUESTION:
        return case.outcome == Outcome.ANSWERED
    if case.kind == CaseKind.APPLICATION:
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
    # A call nobody took, an urgent case nobody answered: alerts, so a reply to them answers the person. Reminders and
    # promise warnings are the desk's own bookkeeping: a reply to them never leaves it.
    kind = ALERT if key in ("staff.timer.realert", "staff.timer.escalated", "staff.timer.check_unanswered") else None
    queue_to_staff(session, text=text, now=now, options=options or [], case_id=case.id, contact_id=case.contact_id, kind=kind)


def _sms_oncall(session: Session, catalogue: Catalogue, case: Case, now: datetime, phone: str) -> None:
    """The on-call phone gets the code and nothing else: a lock screen must not tell anyone's story."""
    text = catalogue.text("sv", "staff.timer.oncall_sms", code=case.code)
    session.add(OutboxItem(channel="sms", lane=0, target="address", case_id=case.id, payload=json.dumps({"address": phone, "text": text}),
                           status="pending", attempts=0, next_attempt_at=now, created_at=now))  # fmt: skip


def _local(profile: Profile, at: datetime) -> str:
    return at.astimezone(profile.office_hours.zone).strftime("%d/%m kl. %H.%M")
