"""Office hours, holidays, call windows and dates, as a person in Stockholm sees them, on fixed days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from handlers import calendar
from handlers.calendar import CallWindow
from handlers.profile import Profile, load_profile

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PROFILE = load_profile()


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment on a Stockholm wall clock, as the UTC datetime the code is given."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def texts(windows: list[CallWindow], language: str = "sv") -> list[str]:
    return [calendar.format_window(window, language, PROFILE) for window in windows]


def with_hours(**changes: object) -> Profile:
    return PROFILE.model_copy(update={"office_hours": PROFILE.office_hours.model_copy(update=changes)})


# Open or closed


def test_open_on_a_tuesday_morning() -> None:
    assert calendar.is_open(PROFILE, local(2026, 12, 1, 10))


def test_closed_on_a_tuesday_evening() -> None:
    assert not calendar.is_open(PROFILE, local(2026, 12, 1, 17))


def test_closed_on_a_saturday() -> None:
    assert not calendar.is_open(PROFILE, local(2026, 12, 5, 10))


def test_friday_closes_at_three() -> None:
    assert calendar.is_open(PROFILE, local(2026, 12, 4, 14, 59))
    assert not calendar.is_open(PROFILE, local(2026, 12, 4, 15))


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 12, 24), "julafton"),
        (date(2026, 12, 25), "juldagen"),
        (date(2026, 12, 31), "nyårsafton"),
        (date(2027, 1, 1), "nyårsdagen"),
        (date(2027, 1, 6), "trettondedag jul"),
        (date(2027, 3, 26), "långfredagen"),
        (date(2027, 3, 29), "annandag påsk"),
        (date(2027, 5, 6), "Kristi himmelsfärdsdag"),
        (date(2028, 6, 6), "nationaldagen, on a Tuesday in 2028"),
        (date(2027, 6, 25), "midsommarafton"),
    ],
)
def test_closed_on_holidays_that_fall_on_weekdays(day: date, name: str) -> None:
    assert day.weekday() < 5, name
    assert not calendar.is_open(PROFILE, local(day.year, day.month, day.day, 10)), name
    assert not calendar.is_working_day(PROFILE, day), name


def test_the_days_between_christmas_and_new_year_are_ordinary_working_days() -> None:
    assert calendar.is_open(PROFILE, local(2026, 12, 28, 10))
    assert calendar.is_open(PROFILE, local(2026, 12, 30, 10))


def test_the_eves_only_close_because_the_profile_asks_for_de_facto_holidays() -> None:
    # holidays 0.109 files julafton, midsommarafton and nyårsafton under "de_facto", not "public".
    public_only = with_hours(holiday_categories=["public"])
    assert calendar.is_open(public_only, local(2026, 12, 24, 10))
    assert calendar.is_open(public_only, local(2027, 6, 25, 10))
    assert not calendar.is_open(public_only, local(2026, 12, 25, 10))


def test_an_extra_closed_date_in_the_profile_closes_the_office() -> None:
    planning_day = with_hours(closed_dates=[date(2026, 12, 2)])
    assert not calendar.is_open(planning_day, local(2026, 12, 2, 10))
    assert calendar.is_open(planning_day, local(2026, 12, 3, 10))


def test_a_naive_datetime_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_open(PROFILE, datetime(2026, 12, 1, 10))


# Next opening


def test_next_opening_while_open_is_now() -> None:
    assert calendar.next_opening(PROFILE, local(2026, 12, 1, 10)) == local(2026, 12, 1, 10)


def test_next_opening_before_nine_is_nine_the_same_day() -> None:
    assert calendar.next_opening(PROFILE, local(2026, 12, 1, 7, 30)) == local(2026, 12, 1, 9)


def test_next_opening_over_a_weekend_is_monday_at_nine() -> None:
    assert calendar.next_opening(PROFILE, local(2026, 12, 4, 16)) == local(2026, 12, 7, 9)
    assert calendar.next_opening(PROFILE, local(2026, 12, 5, 12)) == utc(2026, 12, 7, 8)


def test_next_opening_over_christmas_is_the_monday_after() -> None:
    assert calendar.next_opening(PROFILE, local(2026, 12, 23, 17)) == local(2026, 12, 28, 9)


def test_next_opening_over_new_year_and_epiphany() -> None:
    assert calendar.next_opening(PROFILE, local(2026, 12, 30, 17)) == local(2027, 1, 4, 9)
    assert calendar.next_opening(PROFILE, local(2027, 1, 5, 17)) == local(2027, 1, 7, 9)


# Working-day deadlines


def test_two_working_days_from_a_tuesday_is_thursday_at_closing() -> None:
    assert calendar.working_days_after(PROFILE, local(2026, 12, 1, 10), 2) == local(2026, 12, 3, 16)


def test_a_deadline_on_a_friday_ends_at_fridays_earlier_closing() -> None:
    assert calendar.working_days_after(PROFILE, local(2026, 12, 2, 10), 2) == local(2026, 12, 4, 15)


def test_two_working_days_from_friday_evening_is_tuesday() -> None:
    assert calendar.working_days_after(PROFILE, local(2026, 12, 4, 18), 2) == local(2026, 12, 8, 16)


def test_two_working_days_before_christmas_skip_the_holidays() -> None:
    # Wed 23 is one; 24, 25 and the weekend are not; Mon 28 is two.
    assert calendar.working_days_after(PROFILE, local(2026, 12, 22, 10), 2) == local(2026, 12, 28, 16)


def test_two_working_days_over_easter_2027_skip_good_friday_and_easter_monday_and_keep_local_closing() -> None:
    deadline = calendar.working_days_after(PROFILE, local(2027, 3, 25, 10), 2)
    assert deadline == local(2027, 3, 31, 16)
    assert deadline == utc(2027, 3, 31, 14)  # summer time began on Sunday 28 March


def test_zero_working_days_is_closing_today_or_on_the_next_working_day() -> None:
    assert calendar.working_days_after(PROFILE, local(2026, 12, 1, 10), 0) == local(2026, 12, 1, 16)
    assert calendar.working_days_after(PROFILE, local(2026, 12, 4, 18), 0) == local(2026, 12, 7, 16)


# Call windows


def test_a_monday_to_thursday_has_four_windows_the_last_one_clipped_at_four() -> None:
    windows = calendar.call_windows(PROFILE, local(2026, 12, 1, 7), count=4)
    assert texts(windows) == ["tisdag 1 december kl. 9–11", "tisdag 1 december kl. 11–13",
                              "tisdag 1 december kl. 13–15", "tisdag 1 december kl. 15–16"]  # fmt: skip


def test_a_friday_has_three_windows_then_monday_follows() -> None:
    windows = calendar.call_windows(PROFILE, local(2026, 12, 4, 7), count=4)
    assert texts(windows) == ["fredag 4 december kl. 9–11", "fredag 4 december kl. 11–13",
                              "fredag 4 december kl. 13–15", "måndag 7 december kl. 9–11"]  # fmt: skip


def test_windows_skip_christmas() -> None:
    windows = calendar.call_windows(PROFILE, local(2026, 12, 23, 15, 30), count=2)
    assert texts(windows) == ["måndag 28 december kl. 9–11", "måndag 28 december kl. 11–13"]


def test_a_window_starting_sooner_than_the_lead_time_is_not_offered() -> None:
    at_half_past_ten = local(2026, 12, 1, 10, 30)
    assert texts(calendar.call_windows(PROFILE, at_half_past_ten, count=1)) == ["tisdag 1 december kl. 13–15"]
    assert texts(calendar.call_windows(PROFILE, at_half_past_ten, count=1, min_lead_minutes=30)) == ["tisdag 1 december kl. 11–13"]


def test_six_windows_by_default_and_none_when_none_are_asked_for() -> None:
    assert len(calendar.call_windows(PROFILE, local(2026, 12, 1, 7))) == 6
    assert calendar.call_windows(PROFILE, local(2026, 12, 1, 7), count=0) == []


def test_windows_after_the_spring_dst_change_are_an_hour_earlier_in_utc_but_read_the_same() -> None:
    before = calendar.call_windows(PROFILE, local(2026, 3, 22, 12), count=4)  # Monday 23 March, winter time
    after = calendar.call_windows(PROFILE, local(2026, 3, 29, 12), count=4)  # Monday 30 March, summer time
    assert [window.start.hour for window in before] == [8, 10, 12, 14]
    assert [window.start.hour for window in after] == [7, 9, 11, 13]
    assert [text.split(" kl. ")[1] for text in texts(before)] == [text.split(" kl. ")[1] for text in texts(after)]
    assert texts(after)[2] == "måndag 30 mars kl. 13–15"


def test_windows_after_the_autumn_dst_change_are_an_hour_later_in_utc_but_read_the_same() -> None:
    before = calendar.call_windows(PROFILE, local(2026, 10, 18, 12), count=4)  # Monday 19 October, summer time
    after = calendar.call_windows(PROFILE, local(2026, 10, 25, 12), count=4)  # Monday 26 October, winter time
    assert [window.start.hour for window in before] == [7, 9, 11, 13]
    assert [window.start.hour for window in after] == [8, 10, 12, 14]
    assert [text.split(" kl. ")[1] for text in texts(before)] == [text.split(" kl. ")[1] for text in texts(after)]
    assert texts(after)[2] == "måndag 26 oktober kl. 13–15"


def test_windows_offered_on_the_friday_before_the_spring_change_already_use_summer_time() -> None:
    windows = calendar.call_windows(PROFILE, local(2026, 3, 27, 16), count=1)
    assert windows[0].start == utc(2026, 3, 30, 7)
    assert windows[0].key == "2026-03-30T09:00"


# Formatting


def test_a_window_reads_like_swedish_and_english_people_write_it() -> None:
    window = CallWindow(local(2026, 12, 1, 13), local(2026, 12, 1, 15))
    assert calendar.format_window(window, "sv", PROFILE) == "tisdag 1 december kl. 13–15"
    assert calendar.format_window(window, "en", PROFILE) == "Tuesday 1 December, 13:00–15:00"
    assert window.start == utc(2026, 12, 1, 12) and window.key == "2026-12-01T13:00"


def test_half_hours_are_written_with_a_point_in_swedish() -> None:
    window = CallWindow(local(2026, 12, 1, 13, 30), local(2026, 12, 1, 15))
    assert calendar.format_window(window, "sv", PROFILE) == "tisdag 1 december kl. 13.30–15"
    assert calendar.format_window(window, "en", PROFILE) == "Tuesday 1 December, 13:30–15:00"


def test_a_day_is_named_by_its_stockholm_date() -> None:
    assert calendar.format_day(local(2026, 12, 7, 12), "sv", PROFILE) == "måndag 7 december"
    assert calendar.format_day(local(2026, 12, 7, 12), "en", PROFILE) == "Monday 7 December"
    assert calendar.format_day(utc(2026, 12, 6, 23, 30), "sv", PROFILE) == "måndag 7 december"  # half past midnight in Stockholm


# Window keys


def test_a_key_from_an_offered_window_gives_the_same_window_back() -> None:
    now = local(2026, 11, 30, 12)
    for window in calendar.call_windows(PROFILE, now):
        assert calendar.window_from_key(PROFILE, window.key, now=now) == window


NOT_KEYS = ["", "hello", "2026-12-01", "2026-13-01T09:00", "2026-12-01T25:00", "2026-12-01T09:00 ", "2026-12-01T10:00", "2026-12-01T09:00Z"]


@pytest.mark.parametrize("key", NOT_KEYS)
def test_garbage_keys_are_refused(key: str) -> None:
    assert calendar.window_from_key(PROFILE, key, now=local(2026, 11, 30, 12)) is None


def test_a_saturday_or_a_holiday_is_not_a_window() -> None:
    now = local(2026, 11, 30, 12)
    assert calendar.window_from_key(PROFILE, "2026-12-05T09:00", now=now) is None
    assert calendar.window_from_key(PROFILE, "2026-12-24T09:00", now=now) is None
    assert calendar.window_from_key(PROFILE, "2026-12-04T15:00", now=now) is None  # Friday closes at 15


def test_a_window_that_has_begun_or_passed_cannot_be_booked() -> None:
    assert calendar.window_from_key(PROFILE, "2026-12-01T09:00", now=local(2026, 12, 1, 10)) is None
    assert calendar.window_from_key(PROFILE, "2026-11-30T13:00", now=local(2026, 12, 1, 10)) is None
    assert calendar.window_from_key(PROFILE, "2026-12-01T11:00", now=local(2026, 12, 1, 10)) is not None


def test_a_window_months_ahead_was_never_offered() -> None:
    assert calendar.window_from_key(PROFILE, "2027-06-01T09:00", now=local(2026, 12, 1, 10)) is None


# When we open next, in words


def test_friday_afternoon_says_monday() -> None:
    assert calendar.describe_next_opening(PROFILE, local(2026, 12, 4, 16), "sv") == "på måndag kl. 9"
    assert calendar.describe_next_opening(PROFILE, local(2026, 12, 4, 16), "en") == "on Monday at 9:00"


def test_a_tuesday_evening_says_tomorrow() -> None:
    assert calendar.describe_next_opening(PROFILE, local(2026, 12, 1, 17), "sv") == "i morgon kl. 9"
    assert calendar.describe_next_opening(PROFILE, local(2026, 12, 1, 17), "en") == "tomorrow at 9:00"


def test_early_morning_says_today_and_office_hours_say_now() -> None:
    assert calendar.describe_next_opening(PROFILE, local(2026, 12, 1, 7), "sv") == "i dag kl. 9"
    assert calendar.describe_next_opening(PROFILE, local(2026, 12, 1, 10), "sv") == "nu"


def test_an_opening_more_than_a_week_away_gives_the_date() -> None:
    closed_a_week = with_hours(closed_dates=[date(2027, 1, day) for day in (4, 5, 7, 8)])
    assert calendar.describe_next_opening(closed_a_week, local(2026, 12, 30, 17), "sv") == "måndag 11 januari kl. 9"
    assert calendar.describe_next_opening(closed_a_week, local(2026, 12, 30, 17), "en") == "on Monday 11 January at 9:00"


# Quiet hours


def test_quiet_hours_run_over_midnight() -> None:
    assert calendar.is_quiet(PROFILE, local(2026, 12, 1, 22))
    assert calendar.is_quiet(PROFILE, local(2026, 12, 2, 8, 59))
    assert not calendar.is_quiet(PROFILE, local(2026, 12, 2, 9))
    assert not calendar.is_quiet(PROFILE, local(2026, 12, 2, 20, 59))
