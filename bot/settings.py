"""Settings from the environment or `.env`, under the UTVAG_ names of the design."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.crypto import Keyring, KeyringError

VAR = Path("var")
WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

HOW_TO_FIX = {
    "secret_keys": "run `utvag keys new` and put UTVAG_SECRET_KEYS in the environment or .env",
    "pseudonym_key": "run `utvag keys new` and put UTVAG_PSEUDONYM_KEY in the environment or .env",
    "telegram_webhook_secret": "set 1-256 characters of A-Z a-z 0-9 _ - (webhook mode needs it)",
    "http_port": "give a port number between 1 and 65535",
    "timezone": "give an IANA zone name such as Europe/Stockholm",
}


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
    timezone: str = "Europe/Stockholm"
    escalate_minutes: float = 5.0  # an urgent alert nobody acknowledges goes to the on-call phone after this
    profile: Path | None = None  # the unit's profile (TOML); the shipped one describes SIG Hässelby-Vällingby

    @field_validator("http_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError("out of range")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
        raise SettingsError(f"UTVAG_{field.upper()} is malformed ({error['msg']}): {fix}.") from None
