"""Office hours, holidays, call windows and dates in Swedish and English, from the profile's local wall-clock time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_date

from handlers.profile import DEFAULT_LANGUAGE, OfficeHours, Profile

DEFAULT_TIMEZONE = "Europe/Stockholm"
MIN_TAIL_MINUTES = 30  # a window clipped at closing shorter than this is not offered: nobody can promise a call in it
SEARCH_DAYS = 400  # how far ahead to look for an opening; a year plus margin covers any run of closed days
WINDOW_HORIZON_DAYS = 60  # a key further ahead than this was not offered by us, however well-formed
_KEY = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})$")
_BABEL_LOCALES = {"sv": "sv", "en": "en_GB"}  # en_GB: "Tuesday 1 December", day before month as in Sweden


def _hours(profile: Profile | OfficeHours) -> OfficeHours:
    return profile.office_hours if isinstance(profile, Profile) else profile


def _utc(at: datetime, name: str = "at") -> datetime:
    # A naive datetime would silently be read as the server's local time; refuse it instead.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {at!r}")
    return at.astimezone(UTC)


@lru_cache(maxsize=64)
def _holidays(country: str, categories: tuple[str, ...], year: int) -> frozenset[date]:
    # Building a year of holidays is not free, and every is_open call needs it: cache per country, categories and year.
    return frozenset(holidays.country_holidays(country, years=year, categories=categories).keys())


def is_working_day(profile: Profile | OfficeHours, day: date) -> bool:
    """A weekday with opening hours that is neither a public holiday, a de facto holiday nor one of the closed dates."""
    hours = _hours(profile)
    if hours.on(day.weekday()) is None or day in hours.closed_dates:
        return False
    return day not in _holidays(hours.holidays_country, tuple(hours.holiday_categories), day.year)


def _opening_span(hours: OfficeHours, day: date) -> tuple[datetime, datetime] | None:
    """Opening and closing on that local day, as UTC datetimes; None when closed."""
    day_hours = hours.on(day.weekday())
    if day_hours is None or not is_working_day(hours, day):
        return None
    # combine() with the zone gives the wall-clock time, so 09:00 is 08:00 UTC in winter and 07:00 UTC in summer.
    start = datetime.combine(day, day_hours.start, tzinfo=hours.zone)
    end = datetime.combine(day, day_hours.end, tzinfo=hours.zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _local_date(hours: OfficeHours, at: datetime) -> date:
    return at.astimezone(hours.zone).date()


def is_open(profile: Profile | OfficeHours, at: datetime) -> bool:
    """Whether staff are in at that moment."""
    hours, at = _hours(profile), _utc(at)
    span = _opening_span(hours, _local_date(hours, at))
    return span is not None and span[0] <= at < span[1]


def next_opening(profile: Profile | OfficeHours, at: datetime) -> datetime:
    """The next moment staff are in, in UTC; `at` itself while they are in."""
    hours, at = _hours(profile), _utc(at)
    today = _local_date(hours, at)
    for offset in range(SEARCH_DAYS):
        span = _opening_span(hours, today + timedelta(days=offset))
        if span is not None and at < span[1]:
            return max(at, span[0])
    raise ValueError(f"the office does not open within {SEARCH_DAYS} days of {at.isoformat()}")


def working_days_after(profile: Profile | OfficeHours, start: datetime, days: int) -> datetime:
    """Closing time on the `days`-th working day after the local day of `start`, in UTC.

    The day something arrives never counts, even when it arrives before opening: "within 2 working days" of a
    Tuesday is Thursday at closing, and of a Friday evening or a Saturday it is Tuesday at closing. With days=0 it
    is closing time today, or on the next working day when today is closed or over.
    """
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    hours, start = _hours(profile), _utc(start, "start")
    day, counted = _local_date(hours, start), 0
    for _ in range(SEARCH_DAYS * max(1, days)):
        span = _opening_span(hours, day)
        if days == 0 and span is not None and start < span[1]:
            return span[1]
        day += timedelta(days=1)
        if days > 0 and is_working_day(hours, day):
            counted += 1
            if counted == days:
                span = _opening_span(hours, day)
                assert span is not None  # a working day always has opening hours
                return span[1]
    raise ValueError(f"no {days} working days within reach of {start.isoformat()}")


@dataclass(frozen=True)
class CallWindow:
    """A span in which staff promise to call, in UTC; its key names its local start, for a button."""

    start: datetime
    end: datetime
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start, "start"))
        object.__setattr__(self, "end", _utc(self.end, "end"))
        if self.end <= self.start:
            raise ValueError(f"a call window must end after it starts, got {self.start.isoformat()} to {self.end.isoformat()}")

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.timezone))

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(ZoneInfo(self.timezone))

    @property
    def key(self) -> str:
        """The local start, "2026-12-01T13:00": stable across restarts and short enough for a button id."""
        return self.local_start.strftime("%Y-%m-%dT%H:%M")


def _day_windows(hours: OfficeHours, day: date) -> list[CallWindow]:
    day_hours = hours.on(day.weekday())
    if day_hours is None or not is_working_day(hours, day):
        return []
    # Step in local wall-clock time and convert each end, so windows stay 13-15 on either side of a DST change.
    opening = datetime.combine(day, day_hours.start)
    closing = datetime.combine(day, day_hours.end)
    step = timedelta(minutes=hours.call_window_minutes)
    windows: list[CallWindow] = []
    begin = opening
    while begin < closing:
        end = min(begin + step, closing)
        if end - begin < step and end - begin < timedelta(minutes=MIN_TAIL_MINUTES):
            break
        windows.append(CallWindow(begin.replace(tzinfo=hours.zone), end.replace(tzinfo=hours.zone), hours.timezone))
        begin = end
    return windows


def call_windows(profile: Profile | OfficeHours, now: datetime, count: int = 6, min_lead_minutes: int = 60) -> list[CallWindow]:
    """The next `count` call windows on working days that start at least `min_lead_minutes` after `now`.

    Windows are call_window_minutes long and aligned to opening time; the last one of a day is clipped at closing
    (09-11, 11-13, 13-15, 15-16 on a day open 09-16).
    """
    hours, now = _hours(profile), _utc(now, "now")
    earliest = now + timedelta(minutes=min_lead_minutes)
    found: list[CallWindow] = []
    day = _local_date(hours, now)
    for _ in range(SEARCH_DAYS):
        if len(found) >= count:
            break
        found.extend(window for window in _day_windows(hours, day) if window.start >= earliest)
        day += timedelta(days=1)
    return found[: max(count, 0)]


def window_from_key(profile: Profile | OfficeHours, key: str, now: datetime) -> CallWindow | None:
    """The window a button key names, or None when it is garbage, not a window we offer, already begun or too far ahead.

    `now` defaults to the current time; pass it wherever the caller has a clock (and always in tests).
    """
    hours = _hours(profile)
    match = _KEY.match(key) if isinstance(key, str) else None
    if match is None:
        return None
    try:
        day, begin = date.fromisoformat(match[1]), time(int(match[2]), int(match[3]))
    except ValueError:  # 2026-02-30, 25:00
        return None
    now = _utc(now, "now")  # the caller's clock, never the wall's: a key is only bookable while its window lies ahead
    for window in _day_windows(hours, day):
        if window.local_start.time() == begin:
            # Only a window still ahead can be booked: one that has begun would surprise staff with a call due now.
            if window.start <= now or window.start > now + timedelta(days=WINDOW_HORIZON_DAYS):
                return None
            return window
    return None


def _language(language: str) -> str:
    return language if language in _BABEL_LOCALES else DEFAULT_LANGUAGE


def _date_words(day: date, language: str) -> str:
    return format_date(day, "EEEE d MMMM", locale=_BABEL_LOCALES[_language(language)])


def _weekday_words(day: date, language: str) -> str:
    return format_date(day, "EEEE", locale=_BABEL_LOCALES[_language(language)])


def _clock(at: datetime, language: str) -> str:
    # Swedish writes "kl. 13" on the hour and "kl. 13.30" otherwise; English here uses the 24-hour "13:00", which
    # readers in Sweden expect and which cannot be misread as am/pm.
    if _language(language) == "sv":
        return f"{at.hour}" if at.minute == 0 else f"{at.hour}.{at.minute:02d}"
    return f"{at.hour}:{at.minute:02d}"


def format_window(window: CallWindow, language: str, profile: Profile | OfficeHours) -> str:
    """The window in words: "tisdag 1 december kl. 13–15" / "Tuesday 1 December, 13:00–15:00"."""
    zone = _hours(profile).zone
    start, end = window.start.astimezone(zone), window.end.astimezone(zone)
    day = _date_words(start.date(), language)
    if _language(language) == "sv":
        return f"{day} kl. {_clock(start, 'sv')}–{_clock(end, 'sv')}"
    return f"{day}, {_clock(start, 'en')}–{_clock(end, 'en')}"


def format_day(at: datetime, language: str, profile: Profile | OfficeHours) -> str:
    """The local day of `at` in words: "måndag 7 december" / "Monday 7 December"."""
    return _date_words(_local_date(_hours(profile), _utc(at)), language)


def describe_next_opening(profile: Profile | OfficeHours, at: datetime, language: str) -> str:
    """When staff are next in, to follow "Vi svarar ..." / "We will answer ...".

    "nu", "i dag kl. 9", "i morgon kl. 9", "på måndag kl. 9" within a week, else "tisdag 29 december kl. 9";
    English "now", "today at 9:00", "tomorrow at 9:00", "on Monday at 9:00", "on Tuesday 29 December at 9:00".
    """
    hours, at = _hours(profile), _utc(at)
    opening = next_opening(hours, at)
    swedish = _language(language) == "sv"
    if opening == at:
        return "nu" if swedish else "now"
    local = opening.astimezone(hours.zone)
    ahead = (local.date() - _local_date(hours, at)).days
    clock = f"kl. {_clock(local, 'sv')}" if swedish else f"at {_clock(local, 'en')}"
    if ahead == 0:
        return f"i dag {clock}" if swedish else f"today {clock}"
    if ahead == 1:
        return f"i morgon {clock}" if swedish else f"tomorrow {clock}"
    if ahead < 7:
        weekday = _weekday_words(local.date(), language)
        return f"på {weekday} {clock}" if swedish else f"on {weekday} {clock}"
    day = _date_words(local.date(), language)
    return f"{day} {clock}" if swedish else f"on {day} {clock}"


def is_quiet(profile: Profile, at: datetime) -> bool:
    """Whether `at` falls in the profile's quiet hours (local time), when nothing that can wait is sent."""
    local = _utc(at).astimezone(profile.office_hours.zone)
    return profile.quiet_hours.contains(local.time())
