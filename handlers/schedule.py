"""Check-in schedules as people say them ("varje måndag 10:00"), and their next moment in UTC.

Rules are kept in local wall-clock time, so a Monday 10:00 check-in stays at 10:00 across the changes to and
from summer time; each occurrence is moved out of quiet hours to the next allowed moment.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from handlers.calendar import is_quiet
from handlers.profile import Profile

WEEKDAYS = {"måndag": 0, "tisdag": 1, "onsdag": 2, "torsdag": 3, "fredag": 4, "lördag": 5, "söndag": 6,
            "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}  # fmt: skip
WEEKLY = re.compile(r"^(varje|varannan|every|every other)\s+(\w+)\s+(?:kl\.?\s*)?(\d{1,2})[:.](\d{2})$")
ONCE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(?:kl\.?\s*)?(\d{1,2})[:.](\d{2})$")


class RuleError(ValueError):
    """A schedule that cannot be understood; the message says how to write it."""


def parse_rule(text: str, now: datetime, profile: Profile) -> dict[str, Any]:
    words = " ".join(text.lower().split())
    weekly = WEEKLY.match(words)
    if weekly:
        every_word, day, hour, minute = weekly.groups()
        if day not in WEEKDAYS:
            raise RuleError(f"Jag känner inte igen veckodagen {day!r}: skriv måndag, tisdag, onsdag, torsdag, fredag, lördag eller söndag.")
        at = _time(hour, minute)
        every = 2 if every_word in ("varannan", "every other") else 1
        first = next_weekly(WEEKDAYS[day], at, every, None, now, profile)
        return {"kind": "weekly", "weekday": WEEKDAYS[day], "time": at.strftime("%H:%M"), "every": every,
                "anchor": first.astimezone(profile.office_hours.zone).date().isoformat()}  # fmt: skip
    once = ONCE.match(words)
    if once:
        day_text, hour, minute = once.groups()
        try:
            day = date.fromisoformat(day_text)
        except ValueError as exc:
            raise RuleError(f"{day_text} är inget datum: skriv till exempel 2026-12-03.") from exc
        local = datetime.combine(day, _time(hour, minute), tzinfo=profile.office_hours.zone)
        if local.astimezone(UTC) <= now:
            raise RuleError("Den tiden har redan varit: välj en tid framåt.")
        return {"kind": "once", "at": local.isoformat()}
    raise RuleError("Jag förstod inte när incheckningen ska gå ut.")


def next_due(rule: dict[str, Any], after: datetime, profile: Profile) -> datetime | None:
    """The first occurrence strictly after `after`, moved out of quiet hours; None when there is none."""
    if rule["kind"] == "once":
        moment = _out_of_quiet(datetime.fromisoformat(rule["at"]).astimezone(UTC), profile)
        return moment if moment > after else None
    anchor = date.fromisoformat(rule["anchor"]) if rule.get("anchor") else None
    return next_weekly(rule["weekday"], time.fromisoformat(rule["time"]), rule.get("every", 1), anchor, after, profile)


def next_weekly(weekday: int, at: time, every: int, anchor: date | None, after: datetime, profile: Profile) -> datetime:
    zone = profile.office_hours.zone
    day = after.astimezone(zone).date()
    for offset in range(0, 7 * every + 8):
        candidate = day + timedelta(days=offset)
        if candidate.weekday() != weekday:
            continue
        if anchor is not None and every > 1 and ((candidate - anchor).days // 7) % every != 0:
            continue
        moment = _out_of_quiet(datetime.combine(candidate, at, tzinfo=zone).astimezone(UTC), profile)
        if moment > after:
            return moment
    raise AssertionError("a weekly rule always has a next occurrence")


def describe(rule: dict[str, Any], language: str = "sv") -> str:
    if rule["kind"] == "once":
        return datetime.fromisoformat(rule["at"]).strftime("%Y-%m-%d %H:%M")
    names = [name for name, number in WEEKDAYS.items() if number == rule["weekday"]]
    name = names[0] if language == "sv" else names[1]
    if language == "sv":
        return f"{'varannan' if rule.get('every', 1) == 2 else 'varje'} {name} {rule['time']}"
    return f"every {'other ' if rule.get('every', 1) == 2 else ''}{name} {rule['time']}"


def _out_of_quiet(moment: datetime, profile: Profile) -> datetime:
    """Quiet hours: the first allowed minute after them, on the local clock."""
    if not is_quiet(profile, moment):
        return moment
    zone = profile.office_hours.zone
    local = moment.astimezone(zone)
    end = datetime.combine(local.date(), profile.quiet_hours.end, tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), profile.quiet_hours.end, tzinfo=zone)
    return end.astimezone(UTC)


def _time(hour: str, minute: str) -> time:
    try:
        return time(int(hour), int(minute))
    except ValueError as exc:
        raise RuleError(f"{hour}:{minute} är inget klockslag: skriv till exempel 10:00.") from exc
