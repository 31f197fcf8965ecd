"""What the unit's profile promises, in the person's words: deadlines, openings, referrals."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers import calendar
from handlers.turn import Turn
from storage.cases import expected_wait_days


def note_if_closed(turn: Turn) -> None:
    """Out of hours, say when staff will answer, with the emergency number; the flows still work."""
    if not calendar.is_open(turn.profile, turn.now):
        opening = calendar.describe_next_opening(turn.profile, turn.now, turn.language)
        turn.say("office.closed", opening=opening)


def question_deadline(turn: Turn) -> tuple[datetime, str]:
    days = turn.profile.promises.question.working_days
    deadline = calendar.working_days_after(turn.profile, turn.now, days)
    return deadline, calendar.format_day(deadline, turn.language, turn.profile)


def application_wait(turn: Turn) -> tuple[datetime, int]:
    promise = turn.profile.promises.application.days
    days = expected_wait_days(turn.session, "application", turn.now, promise, turn.profile.promises.honest_wait_floor_days)
    return turn.now + timedelta(days=promise), days


def referral(turn: Turn, which: str) -> str:
    return turn.profile.text(getattr(turn.profile.referrals, which), turn.language)


def retention_days(turn: Turn) -> int:
    return turn.profile.retention.message_days
