"""The unit's profile: names, office hours, phone numbers, referrals, promises and FAQ, from one TOML file staff can edit."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

PROFILE_PATH = Path(__file__).with_name("profile.toml")
LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Placeholders a text may contain. Profile.text fills the ones the profile itself knows; the caller fills {wait}
# (from the real queue). Anything else would reach a person as "{wiat}", so loading refuses it.
FILLED_BY_PROFILE = ("retention_days", "question_working_days", "application_days")
PLACEHOLDERS = frozenset({"wait", *FILLED_BY_PROFILE})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

FAQ_ANSWER_MAX = 300  # about two SMS; the comment in profile.toml asks staff to aim for 160
FAQ_QUESTION_MAX = 64  # the question is a button label; Telegram cuts long ones off
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE = re.compile(r"^\+?\d[\d -]*\d$|^\d$")
_FAQ_KEY = re.compile(r"^[a-z0-9_]{1,40}$")  # it travels in a button id ("faq:<key>"), which Telegram caps at 64 bytes
AREA_MAX = 60  # an incident's area column holds 60 characters
_TEMPLATE_SID = re.compile(r"^(HX[0-9a-f]{32})?$")


class ProfileError(Exception):
    """The profile cannot be used; the message is one sentence a social worker can act on."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class _Model(BaseModel):
    # extra="forbid" so a misspelt key ("strat") is an error instead of silently meaning "not set".
    model_config = ConfigDict(extra="forbid", frozen=True)


def _time(value: Any) -> time:
    if isinstance(value, time):  # TOML also allows an unquoted local time, 09:00:00
        return value.replace(second=0, microsecond=0)
    if isinstance(value, str) and (match := _TIME.match(value.strip())):
        return time(int(match[1]), int(match[2]))
    raise PydanticCustomError("time_format", "must be a time like 09:00")


class Text(_Model):
    """A text people read, in Swedish and English: { sv = "...", en = "..." }."""

    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _languages(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise PydanticCustomError("text_table", 'must be a table like { sv = "...", en = "..." }')
        unknown = sorted(set(value) - set(LANGUAGES))
        if unknown:
            raise PydanticCustomError("text_language", "has a text in '{language}', a language Utväg does not speak (give sv and en)",
                                      {"language": unknown[0]})  # fmt: skip
        return value

    @model_validator(mode="after")
    def _placeholders(self) -> Text:
        used: dict[str, set[str]] = {}
        for language in LANGUAGES:
            text = getattr(self, language)
            names = set(_PLACEHOLDER.findall(text))
            unknown = sorted(names - PLACEHOLDERS)
            if unknown:
                known = ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))
                raise PydanticCustomError("text_placeholder", "uses {{name}} in {language}, which the code cannot fill (it knows {known})",
                                          {"name": unknown[0], "language": language, "known": known})  # fmt: skip
            if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
                raise PydanticCustomError("text_brace", "has a { or } without its partner in {language}", {"language": language})
            used[language] = names
        if used["sv"] != used["en"]:
            raise PydanticCustomError("text_mismatch", "must use the same placeholders in sv and en")
        return self

    def get(self, language: str) -> str:
        """The text in that language; Swedish for a language the profile does not have."""
        return getattr(self, language) if language in LANGUAGES else getattr(self, DEFAULT_LANGUAGE)

    def longest(self) -> int:
        return max(len(self.sv), len(self.en))


class Unit(_Model):
    name: Text
    short_name: str = Field(min_length=1)
    area: str = Field(min_length=1)
    districts: list[str] = Field(min_length=1)
    # The areas staff record a participant in, so an outreach after an event can go to one area (`/incident Vällingby`).
    areas: list[str] = Field(min_length=1)
    min_age: int = Field(ge=0, le=120)
    max_age: int = Field(ge=0, le=120)

    @field_validator("max_age")
    @classmethod
    def _age_order(cls, value: int, info: ValidationInfo) -> int:
        if "min_age" in info.data and value < info.data["min_age"]:
            raise PydanticCustomError("age_order", "must not be lower than min_age ({min_age})", {"min_age": info.data["min_age"]})
        return value

    @field_validator("areas")
    @classmethod
    def _distinct_areas(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for name in value:
            if not _place_key(name) or len(name.strip()) > AREA_MAX or name != name.strip():
                raise PydanticCustomError("area_name", "each area must be a name of 1 to {max} characters", {"max": AREA_MAX})
            if _place_key(name) in seen:
                raise PydanticCustomError("area_twice", "{name} is there twice", {"name": name})
            seen.add(_place_key(name))
        return value

    def area_named(self, typed: str) -> str | None:
        """The area in the list that someone typed ("vallingby" is Vällingby), or None when it is not one of them."""
        wanted = _place_key(typed)
        return next((name for name in self.areas if _place_key(name) == wanted), None) if wanted else None

    def covers(self, place: str) -> bool:
        """Whether a place someone typed ("hasselby strand", "Vällingby") is in the unit's area."""
        wanted = _place_key(place)
        return bool(wanted) and wanted in {_place_key(name) for name in (self.area, *self.districts)}


def _place_key(place: str) -> str:
    # People on SMS often type without å/ä/ö and with odd spacing or hyphens: compare without them.
    plain = "".join(c for c in unicodedata.normalize("NFKD", place.casefold()) if not unicodedata.combining(c))
    return " ".join(plain.replace("-", " ").split())


class DayHours(_Model):
    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> time:
        return _time(value)

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise PydanticCustomError("end_before_start", "must be later than the start time {start}", {"start": start.strftime("%H:%M")})
        return value


class OfficeHours(_Model):
    """When staff are in; a weekday that is left out is closed."""

    timezone: str
    call_window_minutes: int = Field(ge=30, le=480)
    holidays_country: str
    # public: the holidays library's public holidays; de_facto: julafton, midsommarafton and nyårsafton, which Swedish
    # law treats like Sundays but the library (0.109) files separately, so they must be asked for.
    holiday_categories: list[str] = Field(default_factory=lambda: ["public", "de_facto"])
    closed_dates: list[date] = Field(default_factory=list)
    monday: DayHours | None = None
    tuesday: DayHours | None = None
    wednesday: DayHours | None = None
    thursday: DayHours | None = None
    friday: DayHours | None = None
    saturday: DayHours | None = None
    sunday: DayHours | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError("timezone", "must be a time zone like Europe/Stockholm") from None
        return value

    @field_validator("holidays_country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value not in holidays.list_supported_countries():
            raise PydanticCustomError("country", "must be a country code the holidays library knows, like SE")
        return value

    @field_validator("holiday_categories")
    @classmethod
    def _categories(cls, value: list[str], info: ValidationInfo) -> list[str]:
        country = info.data.get("holidays_country")
        if country is None:
            return value
        supported = holidays.country_holidays(country).supported_categories
        for category in value:
            if category not in supported:
                message = "has '{category}', which the holidays library does not have for {country} (it has {supported})"
                context = {"category": category, "country": country, "supported": ", ".join(sorted(supported))}
                raise PydanticCustomError("category", message, context)
        return value

    @model_validator(mode="after")
    def _some_day_open(self) -> OfficeHours:
        if all(self.on(weekday) is None for weekday in range(7)):
            raise PydanticCustomError("no_open_day", "must have opening hours on at least one weekday")
        return self

    def on(self, weekday: int) -> DayHours | None:
        """Opening hours for a weekday number (Monday is 0), None when closed."""
        hours: DayHours | None = getattr(self, WEEKDAYS[weekday])
        return hours

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances per name, so this is cheap


class Phone(_Model):
    number: str  # as people write it, "114 14"; the unit's own number in E.164
    display: str = ""  # how to show it when the number is in E.164, "08-508 290 00"
    name: Text
    note: Text | None = None

    @field_validator("number")
    @classmethod
    def _digits(cls, value: str) -> str:
        if not _PHONE.match(value):
            raise PydanticCustomError("phone", "must be a phone number of digits, spaces and hyphens, like 114 14")
        return value

    @property
    def dial(self) -> str:
        """The number without spaces or hyphens, for tel: links and for Twilio."""
        return re.sub(r"[ -]", "", self.number)

    @property
    def shown(self) -> str:
        return self.display or self.number


class Phones(_Model):
    unit: Phone
    emergency: Phone
    police: Phone
    healthcare: Phone
    suicide_line: Phone

    @field_validator("unit")
    @classmethod
    def _e164(cls, value: Phone) -> Phone:
        if not _E164.match(value.number):
            raise PydanticCustomError("e164", "must have its number in E.164 form, like +46850829000")
        return value


class Referrals(_Model):
    """Where to turn when SIG is not the right place; each text follows a sentence saying why."""

    under_18: Text
    outside_area: Text
    relatives: Text


class QuestionPromise(_Model):
    working_days: int = Field(ge=1)


class ApplicationPromise(_Model):
    days: int = Field(ge=1)


class CallPromise(_Model):
    within_window: bool


class DangerPromise(_Model):
    minutes: int = Field(ge=1)


class Promises(_Model):
    """How long each kind of case may wait. Each kind has its own unit, so code never gets days where it expects minutes."""

    question: QuestionPromise
    application: ApplicationPromise
    call: CallPromise
    danger: DangerPromise
    honest_wait_floor_days: int = Field(ge=0)


class Retention(_Model):
    message_days: int = Field(ge=1)
    inactive_question_days: int = Field(ge=1)
    stopped_contact_days: int = Field(ge=1)


class QuietHours(_Model):
    """When nothing that can wait is sent; may run over midnight (21:00 to 09:00)."""

    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> time:
        return _time(value)

    @field_validator("end")
    @classmethod
    def _not_empty(cls, value: time, info: ValidationInfo) -> time:
        if info.data.get("start") == value:
            raise PydanticCustomError("quiet_empty", "must differ from the start time")
        return value

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class Legal(_Model):
    secrecy: Text


class FaqEntry(_Model):
    key: str
    question: Text
    answer: Text

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _FAQ_KEY.match(value):
            raise PydanticCustomError("faq_key", "must be 1 to 40 lower-case letters a-z, digits or _")
        return value

    @field_validator("question")
    @classmethod
    def _short_question(cls, value: Text) -> Text:
        return _at_most(value, FAQ_QUESTION_MAX)

    @field_validator("answer")
    @classmethod
    def _short_answer(cls, value: Text) -> Text:
        return _at_most(value, FAQ_ANSWER_MAX)


def _at_most(value: Text, limit: int) -> Text:
    for language in LANGUAGES:
        length = len(getattr(value, language))
        if length > limit:
            raise PydanticCustomError("text_length", "must be at most {limit} characters in {language} (it has {length})",
                                      {"limit": limit, "language": language, "length": length})  # fmt: skip
    return value


class WhatsApp(_Model):
    """The approved WhatsApp template for messages sent after the 24-hour window; empty until Meta approves one."""

    template_sid: str = ""
    variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("template_sid")
    @classmethod
    def _sid(cls, value: str) -> str:
        if not _TEMPLATE_SID.match(value):
            raise PydanticCustomError("template_sid", "must be empty or a Twilio content SID like HX followed by 32 hex digits")
        return value


class Profile(_Model):
    unit: Unit
    office_hours: OfficeHours
    phones: Phones
    referrals: Referrals
    promises: Promises
    retention: Retention
    quiet_hours: QuietHours
    legal: Legal
    faq: list[FaqEntry] = Field(min_length=1)
    whatsapp: WhatsApp = Field(default_factory=WhatsApp)

    @model_validator(mode="before")
    @classmethod
    def _no_sms_keywords(cls, data: Any) -> Any:
        # [sms_keywords] was never read: the words are tied to what Twilio does with STOP and START itself, so they
        # live in handlers/keywords.py. Refused by name, so no one edits it believing it changes what people can text.
        if isinstance(data, dict) and "sms_keywords" in data:
            raise PydanticCustomError(
                "sms_keywords", "[sms_keywords] is not read: delete that section (the words are in handlers/keywords.py)"
            )
        return data

    @field_validator("faq")
    @classmethod
    def _unique_keys(cls, value: list[FaqEntry]) -> list[FaqEntry]:
        seen: set[str] = set()
        for entry in value:
            if entry.key in seen:
                raise PydanticCustomError("faq_duplicate", "has the key '{key}' more than once", {"key": entry.key})
            seen.add(entry.key)
        return value

    def text(self, value: Text, language: str, **values: Any) -> str:
        """The text in that language, with the profile's own numbers and any given values filled in.

        A placeholder nobody filled stays as it is ("{wait}"), so a caller can fill it afterwards.
        """
        known = {
            "retention_days": self.retention.message_days,
            "question_working_days": self.promises.question.working_days,
            "application_days": self.promises.application.days,
        } | values
        return _PLACEHOLDER.sub(lambda match: str(known[match[1]]) if match[1] in known else match[0], value.get(language).strip())

    def faq_entry(self, key: str) -> FaqEntry | None:
        return next((entry for entry in self.faq if entry.key == key), None)


def load_profile(path: Path | None = None, timezone: str | None = None) -> Profile:
    """Read and check the profile (by default the one shipped next to this module); ProfileError says what is wrong.
    A `timezone` (the operator's UTVAG_TIMEZONE) replaces office_hours.timezone: the one zone for office hours,
    quiet hours and check-in schedules."""
    path = PROFILE_PATH if path is None else path
    shown = _shown(path)
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except OSError as exc:
        raise ProfileError(f"The profile {shown} cannot be read: {exc.strerror or exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"The profile {shown} is malformed: it is not valid TOML ({exc}).") from exc
    if timezone and isinstance(raw.get("office_hours"), dict):
        raw["office_hours"]["timezone"] = timezone
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        problems = [f"The profile {shown} is malformed: {_describe(error)}." for error in exc.errors()]
        raise ProfileError(problems[0], problems) from None


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _describe(error: ErrorDetails) -> str:
    """One pydantic error in words: "office_hours.monday.start must be a time like 09:00 (got '9')"."""
    where = _location(error["loc"])
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return f"{where} is missing"
    what = {
        "extra_forbidden": "is not a setting the profile knows (check the spelling)",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "greater_than_equal": f"must be at least {context.get('ge')}",
        "less_than_equal": f"must be at most {context.get('le')}",
        "string_type": "must be text in quotes",
        "string_too_short": "must not be empty",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list in square brackets",
        "too_short": "must not be empty",
        "dict_type": "must be a table",
        "model_type": "must be a table",
        "model_attributes_type": "must be a table",
        "date_type": "must be a date like 2026-12-23",
        "date_parsing": "must be a date like 2026-12-23",
        "date_from_datetime_parsing": "must be a date like 2026-12-23",
        "date_from_datetime_inexact": "must be a date like 2026-12-23, without a time",
    }.get(kind, error["msg"][:1].lower() + error["msg"][1:])
    given = error.get("input")
    got = "" if isinstance(given, dict | list) or kind == "extra_forbidden" else f" (got {given!r})"
    return f"{where} {what}{got}"


def _location(loc: tuple[int | str, ...]) -> str:
    # List positions count from 1, as someone counts the [[faq]] blocks in the file.
    where = ""
    for part in loc:
        where += f"[{part + 1}]" if isinstance(part, int) else f".{part}" if where else str(part)
    return where or "the top level"
