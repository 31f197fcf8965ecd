"""The staff digest at 08:30 on working days: what is open, today's calls, promises at risk, silent check-ins."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.calendar import is_working_day
from handlers.catalogue import Catalogue
from handlers.profile import Profile
from handlers.timers import promise_kept
from storage.models import Case, CaseKind, CaseState, CheckinSchedule, CheckinState
from storage.outbox import queue_to_staff


def post_digest(session: Session, catalogue: Catalogue, profile: Profile, now: datetime) -> bool:
    local = now.astimezone(profile.office_hours.zone)
    if not is_working_day(profile, local.date()):
        return False
    cases = session.scalars(select(Case).where(Case.state != CaseState.CLOSED)).all()
    by_kind = Counter(case.kind for case in cases)
    end_of_day = (local.replace(hour=23, minute=59)).astimezone(now.tzinfo)
    calls = [case for case in cases if case.kind == CaseKind.CALL and case.due_at and case.due_at <= end_of_day]
    at_risk = [case for case in cases if case.due_at and case.kind != CaseKind.CALL and case.due_at - now < timedelta(days=2)
               and not promise_kept(case)]  # an answered question is a promise kept, not one at risk
    active = CheckinSchedule.state == CheckinState.ACTIVE
    silent = session.scalars(select(CheckinSchedule).where(CheckinSchedule.unanswered >= 1, active)).all()
    kinds = ", ".join(f"{count} {catalogue.text('sv', f'staff.kind.{kind}')}" for kind, count in sorted(by_kind.items())) or "0"
    text = catalogue.text("sv", "staff.digest", open=kinds, calls=len(calls), risk=len(at_risk), silent=len(silent),
                          codes=" ".join(case.code for case in (calls + at_risk)[:10]) or "-")  # fmt: skip
    queue_to_staff(session, text=text, now=now)
    return True
