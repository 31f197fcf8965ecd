"""`utvag check`: every setting, the database, the keys and the providers, one line each with what to do on failure.

Nothing here prints a secret: a provider's error text can quote the token (PTB's InvalidToken does), so only the
class of an error is shown, with a sentence of our own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bot.settings import Settings, SettingsError, load_settings
from storage.crypto import Keyring
from storage.db import DatabaseMissing, describe_error, make_engine, make_sessionmaker, migration_state

OK, FAIL, SKIP = "ok", "FAIL", "skip"
TIMEOUT = 10.0  # seconds for each provider's answer


@dataclass(frozen=True)
class Result:
    state: str  # OK, FAIL or SKIP
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.state:<4}  {self.name}: {self.detail}"


def run_checks() -> Iterator[Result]:
    """Each check as it finishes, so a slow provider does not hide what is known already."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        yield Result(FAIL, "settings", str(exc))
        return
    try:
        settings.check_for_run()
        keyring = settings.keyring()
        yield Result(OK, "settings", "every setting is well-formed, and the keys are there")
    except SettingsError as exc:
        keyring = None
        yield Result(FAIL, "settings", str(exc))
    database = yield from _database(settings)
    if database is not None:
        if keyring is not None:
            yield _keys(database, keyring)
        database.dispose()
    yield from _telegram(settings)
    yield _twilio(settings)
    yield _public_url(settings)


def _database(settings: Settings) -> Iterator[Result]:
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        engine = make_engine(settings.database_url, create=False)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except DatabaseMissing as exc:
        yield Result(FAIL, "database", f"{exc}: point UTVAG_DATABASE_URL at the service's database, or make one with "
                                       "`utvag db upgrade --create`.")  # fmt: skip
        return None
    except Exception as exc:
        yield Result(FAIL, "database", f"{shown} cannot be reached ({describe_error(exc)}): check that the server runs and that "
                                       "the URL's host, port, user and database are right.")  # fmt: skip
        return None
    yield Result(OK, "database", f"{shown} answers")
    current, head = migration_state(engine)
    if current != head:
        where = f"at revision {current}" if current else "empty"
        yield Result(FAIL, "migrations", f"the database is {where}, this version needs {head}: run `utvag db upgrade`.")
        engine.dispose()
        return None
    yield Result(OK, "migrations", f"at head ({head})")
    return engine


def _keys(engine: Engine, keyring: Keyring) -> Result:
    from storage.canary import check_canary
    from storage.crypto import use_keyring

    use_keyring(keyring)
    try:
        with make_sessionmaker(engine).begin() as session:
            result = check_canary(session, datetime.now(UTC))
    except Exception as exc:
        return Result(FAIL, "keys", f"the key canary cannot be read or written ({describe_error(exc)}): check the database user may write.")
    if not result.secret_keys_fit:
        return Result(FAIL, "keys", "UTVAG_SECRET_KEYS cannot decrypt what this database holds: put back the key it was written "
                                    "with (from the key safe), after the newest one.")  # fmt: skip
    if not result.pseudonym_key_fits:
        return Result(FAIL, "keys", "UTVAG_PSEUDONYM_KEY is not the one this database was made with, so returning people would be "
                                    "strangers: put back the original from the key safe.")  # fmt: skip
    return Result(OK, "keys", "they decrypt the stored canary" + (" (stored now: there was none yet)" if result.written else ""))


def _telegram(settings: Settings) -> Iterator[Result]:
    if not settings.telegram_token:
        yield Result(SKIP, "telegram", "UTVAG_TELEGRAM_TOKEN is not set: Telegram is off, and so are staff alerts in the group.")
        return
    results = asyncio.run(_ask_telegram(settings))
    yield from results


async def _ask_telegram(settings: Settings) -> list[Result]:
    from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
    from telegram.ext import ExtBot
    from telegram.request import HTTPXRequest

    assert settings.telegram_token is not None
    host = httpx.URL(settings.telegram_api_url).host
    bot = ExtBot(settings.telegram_token, base_url=settings.telegram_api_url,
                 request=HTTPXRequest(connect_timeout=TIMEOUT, read_timeout=TIMEOUT))  # fmt: skip
    results: list[Result] = []
    try:
        me = await bot.get_me()
    except InvalidToken:
        return [Result(FAIL, "telegram", "Telegram refuses the token: copy it again from @BotFather into UTVAG_TELEGRAM_TOKEN."),
                Result(SKIP, "staff group", "not checked: Telegram refused the token.")]  # fmt: skip
    except TelegramError as exc:
        return [Result(FAIL, "telegram", f"Telegram cannot be reached at {host} ({type(exc).__name__}): check that this machine may "
                                         "make HTTPS requests out, and any proxy."),
                Result(SKIP, "staff group", "not checked: Telegram could not be reached.")]  # fmt: skip
    results.append(Result(OK, "telegram", f"getMe answers: @{me.username}"))
    if settings.telegram_webhook_url:
        results.append(await _webhook(bot, settings.telegram_webhook_url))
    if settings.staff_chat_id is None:
        results.append(Result(FAIL, "staff group", "UTVAG_STAFF_CHAT_ID is not set, so staff alerts go nowhere: add the bot to the "
                                                   "staff group and set the group's id (-100…)."))  # fmt: skip
        return results
    try:
        chat = await bot.get_chat(settings.staff_chat_id)
    except (BadRequest, Forbidden) as exc:
        results.append(Result(FAIL, "staff group", f"the bot cannot reach group {settings.staff_chat_id} ({type(exc).__name__}): add "
                                                   "the bot to the staff group and check UTVAG_STAFF_CHAT_ID."))  # fmt: skip
    except TelegramError as exc:
        results.append(Result(FAIL, "staff group", f"Telegram did not answer about the group ({type(exc).__name__}): try again."))
    else:
        results.append(Result(OK, "staff group", f"the bot reaches group {chat.id} ({chat.type})"))
    return results


async def _webhook(bot, url: str) -> Result:  # type: ignore[no-untyped-def]
    """Whether Telegram delivers to our webhook: the URL it has, and its own last error (which names no secret)."""
    from telegram.error import TelegramError

    try:
        info = await bot.get_webhook_info()
    except TelegramError as exc:
        return Result(FAIL, "telegram webhook", f"Telegram did not say where it delivers ({type(exc).__name__}): try again.")
    if not info.url:
        return Result(FAIL, "telegram webhook", f"Telegram has no webhook yet: start the service (`utvag run` sets it to {url}).")
    if info.url != url:
        return Result(FAIL, "telegram webhook", f"Telegram delivers to {info.url}, not to UTVAG_TELEGRAM_WEBHOOK_URL ({url}): another "
                                                "program uses this bot's token, or the setting changed; restart the service.")  # fmt: skip
    if info.last_error_date is not None and info.last_error_message and (datetime.now(UTC) - info.last_error_date).total_seconds() < 3600:
        return Result(FAIL, "telegram webhook", f"Telegram's last delivery to {url} failed ({info.last_error_message[:120]}): check "
                                                "that the proxy forwards it to the service.")  # fmt: skip
    waiting = f", {info.pending_update_count} updates waiting" if info.pending_update_count else ""
    return Result(OK, "telegram webhook", f"Telegram delivers to {url}{waiting}")


def _twilio(settings: Settings) -> Result:
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    if not sid and not token:
        return Result(SKIP, "twilio", "UTVAG_TWILIO_ACCOUNT_SID is not set: SMS and WhatsApp are off.")
    if not sid or not token:
        missing = "UTVAG_TWILIO_AUTH_TOKEN" if sid else "UTVAG_TWILIO_ACCOUNT_SID"
        return Result(FAIL, "twilio", f"{missing} is not set: copy both the Account SID and the Auth Token from the Twilio console.")
    if not settings.twilio_from and not settings.twilio_whatsapp_from:
        return Result(FAIL, "twilio", "neither UTVAG_TWILIO_FROM nor UTVAG_TWILIO_WHATSAPP_FROM is set: give the number people write to.")
    import requests
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(sid, token, http_client=TwilioHttpClient(timeout=TIMEOUT))
    client.edge = client.region = None  # as in the channel: a TWILIO_EDGE in the environment would rewrite the host
    client.api.base_url = settings.twilio_api_url.rstrip("/")
    host = httpx.URL(settings.twilio_api_url).host
    try:
        account = client.api.v2010.accounts(sid).fetch()
    except TwilioRestException as exc:
        if exc.status in (401, 403, 404):
            return Result(FAIL, "twilio", "Twilio refuses the Account SID and Auth Token: copy both again from the Twilio console.")
        return Result(FAIL, "twilio", f"Twilio answered HTTP {exc.status}: try again in a while, or see status.twilio.com.")
    except (requests.RequestException, TwilioException) as exc:
        return Result(FAIL, "twilio", f"Twilio cannot be reached at {host} ({type(exc).__name__}): check that this machine may make "
                                      "HTTPS requests out, and any proxy.")  # fmt: skip
    if account.status != "active":
        return Result(FAIL, "twilio", f"the Twilio account is {account.status}: see the Twilio console.")
    return Result(OK, "twilio", "the credentials are valid and the account is active")


def _public_url(settings: Settings) -> Result:
    if not settings.public_url:
        return Result(SKIP, "public url", "UTVAG_PUBLIC_URL is not set: Twilio's webhooks and the web chat cannot be reached from outside.")
    url = settings.public_url.rstrip("/") + "/healthz"
    try:
        response = httpx.get(url, timeout=TIMEOUT, follow_redirects=False)
    except httpx.HTTPError as exc:
        return Result(FAIL, "public url", f"{url} cannot be reached ({type(exc).__name__}): check DNS, the TLS proxy and that "
                                          "`utvag run` is running.")  # fmt: skip
    try:
        ours = "status" in response.json()
    except ValueError:
        ours = False
    if response.status_code not in (200, 503) or not ours:
        return Result(FAIL, "public url", f"{url} answers HTTP {response.status_code}, not Utväg's health: check that the proxy "
                                          f"forwards to {settings.http_host}:{settings.http_port}.")  # fmt: skip
    health = "healthy" if response.status_code == 200 else "reached, but reports something down (see /healthz)"
    return Result(OK, "public url", f"{url} is {health}")
