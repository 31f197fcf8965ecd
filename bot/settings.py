"""Settings from the environment or `.env`, under the UTVAG_ names of the design."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.crypto import Keyring, KeyringError

VAR = Path("var")
WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

HOW_TO_FIX = {
    "secret_keys": "run `utvag keys new` and put UTVAG_SECRET_KEYS in the settings file",
    "pseudonym_key": "run `utvag keys new` and put UTVAG_PSEUDONYM_KEY in the settings file",
    "telegram_token": "give the token @BotFather gave, digits, a colon and letters (123456:ABC…)",
    "telegram_webhook_secret": "set 1-256 characters of A-Z a-z 0-9 _ - (webhook mode needs it)",
    "telegram_webhook_url": "give the public https:// address Telegram should call, for example https://chat.example.se/telegram/webhook",
    "staff_chat_id": "give the staff group's numeric id, for example -1001234567890",
    "http_port": "give a port number between 1 and 65535",
    "timezone": "give an IANA zone name such as Europe/Stockholm",
    "database_url": "give a SQLAlchemy URL such as postgresql://utvag@127.0.0.1:5432/utvag or sqlite:////var/lib/utvag/utvag.db",
    "twilio_account_sid": "copy the Account SID from the Twilio console: AC and 32 characters of 0-9 a-f",
    "twilio_auth_token": "copy the Auth Token from the Twilio console",
    "twilio_from": "give the Twilio number in international form, for example +46701234567",
    "twilio_whatsapp_from": "give the WhatsApp sender as whatsapp:+46701234567",
    "twilio_segments_per_second": "give a number above 0, for example 1 for a Swedish long code",
    "public_url": "give the public address with its scheme, for example https://chat.example.se",
    "oncall_phone": "give the on-call number in international form, for example +46701234567",
    "escalate_minutes": "give a number of minutes above 0, for example 5",
    "telegram_api_url": "give an http:// or https:// address, or leave it unset",
    "twilio_api_url": "give an http:// or https:// address, or leave it unset",
    "metrics_token": "set 32 or more characters of A-Z a-z 0-9 _ - (`openssl rand -hex 32` makes one), or leave it unset",
    "log_format": "give text or json",
    "stop_seconds": "give a number of seconds, 0 or more, below the unit's TimeoutStopSec (for example 20)",
}
# Characters each kind of value may hold: an error names the others it found (never the value, which may be a secret).
ALLOWED = {
    "secret_keys": r"[A-Za-z0-9_=, -]",  # "new, old" reads naturally; the spaces are dropped
    "pseudonym_key": r"[A-Za-z0-9_=-]",
    "telegram_token": r"[A-Za-z0-9_:-]",
    "telegram_webhook_secret": r"[A-Za-z0-9_-]",
    "staff_chat_id": r"[0-9-]",
    "http_port": r"[0-9]",
    "twilio_account_sid": r"[A-Za-z0-9]",
    "twilio_auth_token": r"[A-Za-z0-9]",
    "twilio_from": r"[0-9+]",
    "twilio_whatsapp_from": r"[a-z0-9:+]",
    "oncall_phone": r"[0-9+]",
    "twilio_segments_per_second": r"[0-9.]",
    "escalate_minutes": r"[0-9.]",
    "stop_seconds": r"[0-9.]",
    "database_url": r"[^\s#]",
    "public_url": r"[^\s#]",
    "telegram_webhook_url": r"[^\s#]",
    "telegram_api_url": r"[^\s#]",
    "twilio_api_url": r"[^\s#]",
    "timezone": r"[A-Za-z0-9_/+-]",
    "http_host": r"[A-Za-z0-9.:-]",
    "metrics_token": r"[A-Za-z0-9_-]",
}
CHARACTER_NAMES = {" ": "space", "\t": "tab", "#": "#", '"': "double quote", "'": "single quote", "\\": "backslash"}
TWILIO_SID = re.compile(r"^AC[0-9a-f]{32}$")
TELEGRAM_TOKEN = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and says how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UTVAG_", env_file=".env", extra="ignore")

    database_url: str = f"sqlite:///{VAR / 'utvag.db'}"
    secret_keys: str = ""
    pseudonym_key: str = ""
    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_poll_timeout: int = 25
    staff_chat_id: int | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    twilio_segments_per_second: float = 1.0  # per sending number; a Swedish long code manages about one
    public_url: str | None = None
    oncall_phone: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    timezone: str | None = None  # overrides the profile's office_hours.timezone: local time for hours and schedules
    escalate_minutes: float = 5.0  # an urgent alert nobody acknowledges goes to the on-call phone after this
    profile: Path | None = None  # the unit's profile (TOML); the shipped one describes SIG Hässelby-Vällingby
    metrics_token: str | None = None  # GET /metrics for whoever sends it as a bearer token; unset: loopback callers only
    log_format: str = "text"  # text, or json: one object a line for a log collector
    stop_seconds: float = 10.0  # after SIGTERM, how long the outbox may go on delivering what is due (below systemd's 90 s)

    @field_validator("*", mode="before")
    @classmethod
    def _characters(cls, value: Any, info: ValidationInfo) -> Any:
        allowed = ALLOWED.get(info.field_name or "")
        if isinstance(value, str) and allowed:
            offending = invalid_characters(value, allowed)
            if offending:
                raise ValueError(offending)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            url = make_url(value)
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number (its text could quote a password)
            raise ValueError("not a URL SQLAlchemy can read") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"unknown database {url.get_backend_name()!r}; Utväg runs on postgresql or sqlite")
        try:
            url.get_dialect()
        except NoSuchModuleError:
            raise ValueError(f"unknown driver {url.drivername!r}; use postgresql:// or sqlite:///") from None
        if url.get_backend_name() == "sqlite" and not url.database:
            raise ValueError("a sqlite URL needs a file path, sqlite:////var/lib/utvag/utvag.db")
        return value

    @field_validator("twilio_account_sid")
    @classmethod
    def _sid(cls, value: str | None) -> str | None:
        if value and not TWILIO_SID.match(value):
            raise ValueError("not an Account SID")
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value and not TELEGRAM_TOKEN.match(value):
            raise ValueError("not a bot token")
        return value

    @field_validator("twilio_from", "oncall_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value and not is_phone_number(value):
            raise ValueError("not a phone number in international form")
        return value

    @field_validator("twilio_whatsapp_from")
    @classmethod
    def _whatsapp(cls, value: str | None) -> str | None:
        if value and not is_phone_number(value.removeprefix("whatsapp:")):
            raise ValueError("not a phone number in international form")
        return value

    @field_validator("twilio_segments_per_second", "escalate_minutes")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("must be above 0")
        return value

    @field_validator("public_url", "telegram_webhook_url", "telegram_api_url", "twilio_api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value:
            parsed = urlsplit(value)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError("it needs a scheme and a host, https://…")
        return value

    @field_validator("stop_seconds")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("below 0")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("shorter than 32 characters")
        return value or None

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in ("text", "json"):
            raise ValueError("neither text nor json")
        return value.lower()

    @field_validator("http_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("out of range")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and not WEBHOOK_SECRET.match(value):
            raise ValueError("malformed")
        return value

    def keyring(self) -> Keyring:
        if not self.secret_keys.strip():
            raise SettingsError(f"UTVAG_SECRET_KEYS is not set: {HOW_TO_FIX['secret_keys']}.")
        if not self.pseudonym_key.strip():
            raise SettingsError(f"UTVAG_PSEUDONYM_KEY is not set: {HOW_TO_FIX['pseudonym_key']}.")
        keys = [key for key in self.secret_keys.split(",") if key.strip()]
        try:
            return Keyring(keys, self.pseudonym_key.strip())
        except KeyringError as exc:
            name = "UTVAG_PSEUDONYM_KEY" if "pseudonym" in str(exc) else "UTVAG_SECRET_KEYS"
            raise SettingsError(f"{name} is malformed ({exc}): run `utvag keys new` for fresh keys.") from exc

    def check_for_run(self) -> None:
        """Everything `utvag run` needs, checked before anything starts."""
        self.keyring()
        if self.telegram_webhook_url and not self.telegram_webhook_secret:
            raise SettingsError(
                "UTVAG_TELEGRAM_WEBHOOK_SECRET is not set: webhook mode needs it; "
                "set 1-256 characters of A-Z a-z 0-9 _ - (or unset UTVAG_TELEGRAM_WEBHOOK_URL for polling)."
            )


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        fix = HOW_TO_FIX.get(field, "see the README's Configuration section")
        reason = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] != "value_error" and isinstance(error.get("input"), str) and field in ALLOWED:
            reason = invalid_characters(error["input"], ALLOWED[field]) or reason  # "eighty" for a port, say
        raise SettingsError(f"UTVAG_{field.upper()} is malformed ({reason}): {fix}.") from None


def invalid_characters(value: str, allowed: str) -> str | None:
    """Which characters a value may not hold, named, never the value: a secret may be around them."""
    pattern = re.compile(allowed)
    found = list(dict.fromkeys(char for char in value if not pattern.fullmatch(char)))
    if not found:
        return None
    comment = re.search(r"\s#.*", value)
    if comment:
        return (f"it ends in a comment, {comment.group().strip()[:30]!r}: systemd's EnvironmentFile keeps an end-of-line "
                "comment in the value, so put comments on lines of their own")  # fmt: skip
    names = ", ".join(CHARACTER_NAMES.get(char, repr(char)) for char in found[:6])
    if value != value.strip() and value.strip() and not any(pattern.fullmatch(char) is None for char in value.strip()):
        return f"it holds {names} at its start or end: remove them or the quotes around them"
    return f"it holds characters it cannot have: {names}"


def is_phone_number(value: str) -> bool:
    import phonenumbers

    if not value.startswith("+"):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return False
