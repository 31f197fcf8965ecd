"""The unit's profile: the shipped one loads and reads well; a broken one is refused in one sentence that names the field."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from handlers.profile import FAQ_ANSWER_MAX, PROFILE_PATH, DayHours, ProfileError, load_profile

SHIPPED = PROFILE_PATH.read_text(encoding="utf-8")


def profile_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the shipped profile with one piece of text changed, as a social worker might change it."""
    assert old in SHIPPED, f"the shipped profile no longer contains {old!r}"
    path = tmp_path / "profile.toml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    return str(caught.value)


def test_the_shipped_profile_loads_with_the_units_names_and_hours() -> None:
    profile = load_profile()
    assert profile.text(profile.unit.name, "sv") == "Sociala insatsgrupper Hässelby-Vällingby"
    assert profile.text(profile.unit.name, "en") == "Social Intervention Group Hässelby-Vällingby"
    assert profile.unit.short_name == "SIG"
    assert profile.office_hours.timezone == "Europe/Stockholm"
    assert profile.office_hours.call_window_minutes == 120
    for weekday in ("monday", "tuesday", "wednesday", "thursday"):
        assert getattr(profile.office_hours, weekday) == DayHours(start=time(9), end=time(16))
    assert profile.office_hours.friday == DayHours(start=time(9), end=time(15))
    assert profile.office_hours.saturday is None and profile.office_hours.sunday is None


def test_the_shipped_profile_has_the_promises_retention_and_quiet_hours_the_unit_gave() -> None:
    profile = load_profile()
    assert profile.promises.question.working_days == 2
    assert profile.promises.application.days == 14
    assert profile.promises.call.within_window is True
    assert profile.promises.danger.minutes == 15
    assert profile.promises.honest_wait_floor_days == 2
    retention = profile.retention
    assert (retention.message_days, retention.inactive_question_days, retention.stopped_contact_days) == (90, 90, 30)
    assert (profile.quiet_hours.start.isoformat("minutes"), profile.quiet_hours.end.isoformat("minutes")) == ("21:00", "09:00")


def test_the_phone_numbers_are_the_real_national_ones_and_the_unit_number_is_dialable() -> None:
    phones = load_profile().phones
    assert phones.emergency.number == "112"
    assert phones.police.number == "114 14" and phones.police.dial == "11414"
    assert phones.healthcare.number == "1177"
    assert phones.suicide_line.number == "90101"
    assert "mind.se" in phones.suicide_line.note.sv  # type: ignore[union-attr]
    assert phones.unit.dial.startswith("+468")


def test_the_faq_has_at_least_eight_short_answers_in_both_languages() -> None:
    faq = load_profile().faq
    assert len(faq) >= 8
    for entry in faq:
        for language in ("sv", "en"):
            assert getattr(entry.question, language).strip(), f"{entry.key} has no {language} question"
            answer = getattr(entry.answer, language)
            assert answer.strip(), f"{entry.key} has no {language} answer"
            assert len(answer) <= FAQ_ANSWER_MAX, f"{entry.key} in {language} has {len(answer)} characters"


def test_the_faq_answers_the_questions_people_ask() -> None:
    keys = {entry.key for entry in load_profile().faq}
    assert {"who", "anonymous", "police", "cost", "wait", "after_applying", "family", "under_18", "storage"} <= keys


def test_are_you_the_police_is_answered_honestly() -> None:
    profile = load_profile()
    answer = profile.text(profile.faq_entry("police").answer, "sv")  # type: ignore[union-attr]
    assert answer.startswith("Nej.")
    assert "sekretess" in answer and "liv är i fara" in answer and "samarbetar med polisen i vissa fall" in answer
    assert "pratar vi med dig först" in answer
    secrecy = profile.text(profile.legal.secrecy, "sv")
    assert "sekretess" in secrecy and "undantag" in secrecy and "polisen" in secrecy


def test_the_wait_answer_leaves_the_wait_for_the_queue_and_fills_what_the_profile_knows() -> None:
    profile = load_profile()
    wait = profile.faq_entry("wait").answer  # type: ignore[union-attr]
    assert "{wait}" in profile.text(wait, "sv")
    assert profile.text(wait, "sv", wait=3).startswith("Just nu är väntetiden ungefär 3 dagar. Ingen ska behöva vänta mer än några veckor.")
    storage = profile.text(profile.faq_entry("storage").answer, "sv")  # type: ignore[union-attr]
    assert "efter 90 dagar utan kontakt" in storage and "RADERA" in storage


def test_every_referral_is_there_in_both_languages_without_invented_numbers() -> None:
    referrals = load_profile().referrals
    for which in ("under_18", "outside_area", "relatives"):
        text = getattr(referrals, which)
        assert text.sv.strip() and text.en.strip()
    assert "socialtjänsten där du bor" in referrals.under_18.sv
    assert "stockholm.se" in referrals.outside_area.sv


def test_a_language_the_profile_lacks_falls_back_to_swedish() -> None:
    profile = load_profile()
    assert profile.text(profile.unit.name, "ar") == "Sociala insatsgrupper Hässelby-Vällingby"


def test_places_in_the_area_are_recognised_however_they_are_typed() -> None:
    unit = load_profile().unit
    assert unit.covers("Vällingby")
    assert unit.covers("hasselby strand")
    assert unit.covers("  Hässelby-Gård ")
    assert not unit.covers("Bromma")
    assert not unit.covers("")


def test_an_area_is_found_in_the_units_list_however_it_is_typed() -> None:
    unit = load_profile().unit
    assert unit.areas == ["Hässelby", "Vällingby", "Grimsta", "Råcksta", "Vinsta"]
    assert unit.area_named("vallingby") == "Vällingby"
    assert unit.area_named(" RÅCKSTA ") == "Råcksta"
    assert unit.area_named("Rinkeby") is None
    assert unit.area_named("") is None


def test_an_area_listed_twice_is_refused(tmp_path: Path) -> None:
    path = profile_with(tmp_path, '"Grimsta", "Råcksta"', '"Grimsta", "grimsta"')
    assert refusal(path).startswith(f"The profile {path} is malformed: unit.areas grimsta is there twice")


def test_an_empty_area_list_is_refused(tmp_path: Path) -> None:
    path = profile_with(tmp_path, 'areas = ["Hässelby", "Vällingby", "Grimsta", "Råcksta", "Vinsta"]', "areas = []")
    assert refusal(path).startswith(f"The profile {path} is malformed: unit.areas ")


def test_a_leftover_sms_keywords_section_is_refused_because_nothing_reads_it(tmp_path: Path) -> None:
    path = profile_with(tmp_path, "[whatsapp]", '[sms_keywords]\nstop = ["SLUTA"]\n\n[whatsapp]')
    assert "[sms_keywords] is not read: delete that section" in refusal(path)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    path = profile_with(tmp_path, 'short_name = "SIG"\n', "")
    assert refusal(path) == f"The profile {path} is malformed: unit.short_name is missing."


def test_an_hour_written_as_9_is_refused(tmp_path: Path) -> None:
    path = profile_with(tmp_path, 'monday = { start = "09:00"', 'monday = { start = "9"')
    assert refusal(path) == f"The profile {path} is malformed: office_hours.monday.start must be a time like 09:00 (got '9')."


def test_closing_before_opening_is_refused(tmp_path: Path) -> None:
    path = profile_with(tmp_path, 'tuesday = { start = "09:00", end = "16:00" }', 'tuesday = { start = "09:00", end = "08:00" }')
    assert refusal(path) == (
        f"The profile {path} is malformed: office_hours.tuesday.end must be later than the start time 09:00 (got '08:00')."
    )


def test_a_text_in_a_language_we_do_not_speak_is_refused(tmp_path: Path) -> None:
    path = profile_with(tmp_path, 'en = "Social Intervention Group Hässelby-Vällingby" }',
                        'en = "Social Intervention Group Hässelby-Vällingby", de = "Soziale Eingreifgruppe" }')  # fmt: skip
    assert refusal(path) == (
        f"The profile {path} is malformed: unit.name has a text in 'de', a language Utväg does not speak (give sv and en)."
    )


def test_a_text_missing_its_english_is_refused(tmp_path: Path) -> None:
    path = profile_with(tmp_path, ', en = "Does it cost anything?" }', " }")
    assert refusal(path) == f"The profile {path} is malformed: faq[4].question.en is missing."


def test_a_negative_promise_is_refused(tmp_path: Path) -> None:
    path = profile_with(tmp_path, "application = { days = 14 }", "application = { days = -14 }")
    assert refusal(path) == f"The profile {path} is malformed: promises.application.days must be at least 1 (got -14)."


def test_a_misspelt_setting_is_refused_instead_of_ignored(tmp_path: Path) -> None:
    path = profile_with(tmp_path, "message_days = 90", "mesage_days = 90")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.problems == [
        f"The profile {path} is malformed: retention.message_days is missing.",
        f"The profile {path} is malformed: retention.mesage_days is not a setting the profile knows (check the spelling).",
    ]


def test_an_faq_answer_longer_than_300_characters_is_refused(tmp_path: Path) -> None:
    padding = "Mycket lång text. " * 20
    path = profile_with(tmp_path, 'answer.sv = "Nej, stödet är gratis.', f'answer.sv = "{padding}Nej, stödet är gratis.')
    assert refusal(path) == f"The profile {path} is malformed: faq[4].answer must be at most 300 characters in sv (it has 427)."


def test_a_misspelt_placeholder_is_refused_before_a_person_sees_it(tmp_path: Path) -> None:
    path = profile_with(tmp_path, "väntetiden ungefär {wait} dagar", "väntetiden ungefär {wiat} dagar")
    message = refusal(path)
    assert message.startswith(f"The profile {path} is malformed: faq[5].answer uses {{wiat}} in sv, which the code cannot fill")


def test_the_operator_s_time_zone_replaces_the_profile_s() -> None:
    assert load_profile(timezone="Europe/Helsinki").office_hours.timezone == "Europe/Helsinki"
    assert load_profile(timezone=None).office_hours.timezone == "Europe/Stockholm"


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    path = profile_with(tmp_path, 'timezone = "Europe/Stockholm"', 'timezone = "Europe/Stokholm"')
    assert refusal(path) == (
        f"The profile {path} is malformed: office_hours.timezone must be a time zone like Europe/Stockholm (got 'Europe/Stokholm')."
    )


def test_a_unit_number_not_in_e164_is_refused(tmp_path: Path) -> None:
    path = profile_with(tmp_path, 'number = "+46850829000"', 'number = "08-508 290 00"')
    assert refusal(path).startswith(f"The profile {path} is malformed: phones.unit must have its number in E.164 form, like +46850829000")


def test_a_file_that_is_not_toml_is_refused_in_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text("[unit\nname = 1\n", encoding="utf-8")
    message = refusal(path)
    assert message.startswith(f"The profile {path} is malformed: it is not valid TOML (")
    assert message.endswith(").")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path / "nowhere.toml")
    assert message.startswith(f"The profile {tmp_path / 'nowhere.toml'} cannot be read: ")


def test_every_problem_is_kept_while_the_message_names_the_first(tmp_path: Path) -> None:
    path = profile_with(tmp_path, "message_days = 90", "message_days = 0")
    path.write_text(path.read_text(encoding="utf-8").replace("minutes = 15", "minutes = 0"), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value) == f"The profile {path} is malformed: promises.danger.minutes must be at least 1 (got 0)."
    assert caught.value.problems[1] == f"The profile {path} is malformed: retention.message_days must be at least 1 (got 0)."
