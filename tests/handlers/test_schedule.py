"""Schedules in local wall-clock time: right across both daylight-saving changes, and out of quiet hours."""

from datetime import UTC, datetime

import pytest

from handlers.profile import load_profile
from handlers.schedule import RuleError, describe, next_due, parse_rule

PROFILE = load_profile()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_every_monday_at_ten_stays_at_ten_across_the_march_change():
    rule = parse_rule("varje måndag 10:00", utc(2026, 3, 20, 12), PROFILE)
    before = next_due(rule, utc(2026, 3, 20, 12), PROFILE)
    after = next_due(rule, before, PROFILE)
    assert before == utc(2026, 3, 23, 9)  # 10:00 CET
    assert after == utc(2026, 3, 30, 8)  # 10:00 CEST, the day after the clocks went forward


def test_and_across_the_october_change():
    rule = parse_rule("varje måndag 10:00", utc(2026, 10, 20, 12), PROFILE)
    first = next_due(rule, utc(2026, 10, 20, 12), PROFILE)
    assert first == utc(2026, 10, 26, 9)  # 10:00 CET, the day after the clocks went back
    assert next_due(rule, utc(2026, 10, 17, 12), PROFILE) == utc(2026, 10, 19, 8)  # 10:00 CEST the week before


def test_a_sunday_check_in_on_the_night_of_the_change_is_still_at_its_hour():
    rule = parse_rule("varje söndag 10:00", utc(2026, 3, 27, 12), PROFILE)
    assert next_due(rule, utc(2026, 3, 27, 12), PROFILE) == utc(2026, 3, 29, 8)


def test_every_other_week_skips_a_week():
    rule = parse_rule("varannan torsdag 14:30", utc(2026, 12, 1, 10), PROFILE)
    first = next_due(rule, utc(2026, 12, 1, 10), PROFILE)
    second = next_due(rule, first, PROFILE)
    assert (second - first).days == 14
    assert describe(rule) == "varannan torsdag 14:30"


def test_a_time_in_quiet_hours_waits_for_their_end():
    rule = parse_rule("varje tisdag 22:00", utc(2026, 12, 1, 10), PROFILE)
    assert next_due(rule, utc(2026, 12, 1, 10), PROFILE) == utc(2026, 12, 2, 8)  # Wednesday 09:00 local


def test_a_one_off_date():
    rule = parse_rule("2026-12-03 14:00", utc(2026, 12, 1, 10), PROFILE)
    assert next_due(rule, utc(2026, 12, 1, 10), PROFILE) == utc(2026, 12, 3, 13)
    assert next_due(rule, utc(2026, 12, 3, 13), PROFILE) is None


@pytest.mark.parametrize("words", ["ibland", "varje blåmåndag 10:00", "varje måndag 25:00", "2026-02-30 10:00", "2020-01-01 10:00"])
def test_what_cannot_be_understood_says_how_to_write_it(words):
    with pytest.raises(RuleError):
        parse_rule(words, utc(2026, 12, 1, 10), PROFILE)
