"""Logs carry no personal data: not in what we log, not in what libraries log."""

import json
import logging

import httpx
import pytest

from bot.logs import RedactingFilter, redact
from tests.fakes.telegram_api import FakeBotAPI
from tests.runner import UtvagProcess

pytestmark = pytest.mark.e2e  # starts the Runtime or `utvag`: CI runs it again under shifted clocks

CHAT = 918273645
TEXT = "Jag heter Kalle och bor på Råckstavägen"


def test_numbers_and_tokens_are_masked():
    assert "0701234567" not in redact("sms from 070-123 45 67 failed")
    assert "46701234567" not in redact("to +46701234567 and whatsapp:+46701234567")
    assert "918273645" not in redact("chat 918273645 blocked")
    assert "AAEx" not in redact("POST http://x/bot123456:AAExampleExampleExampleExample1234/sendMessage")
    assert redact("retrying in 2.5 s, attempt 3 of 8") == "retrying in 2.5 s, attempt 3 of 8"


def test_the_filter_masks_arguments_and_exception_texts(caplog):
    logger = logging.getLogger("utvag.test")
    logger.addFilter(RedactingFilter())
    try:
        raise ValueError(f"chat {CHAT} not found")
    except ValueError:
        logger.exception("sending to %s failed", CHAT)
    logger.removeFilter(logger.filters[0])
    assert str(CHAT) not in caplog.text


def test_an_exception_message_is_never_logged_only_its_type(caplog):
    logger = logging.getLogger("utvag.test2")
    logger.addFilter(RedactingFilter())
    try:
        raise KeyError(TEXT)
    except KeyError:
        logger.exception("handler failed")
    logger.removeFilter(logger.filters[0])
    assert "KeyError" in caplog.text and "Kalle" not in caplog.text


@pytest.mark.parametrize("form", ["text", "json"])
def test_an_end_to_end_conversation_leaves_no_identifier_in_the_logs(tmp_path, keys, form):
    with FakeBotAPI() as api:
        api.fail_next("sendMessage", status=429, retry_after=1)  # a retry gets logged
        env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/utvag.db", "UTVAG_TELEGRAM_TOKEN": api.token,
               "UTVAG_TELEGRAM_API_URL": api.base_url, "UTVAG_TELEGRAM_POLL_TIMEOUT": "1", "UTVAG_LOG_FORMAT": form}  # fmt: skip
        with UtvagProcess(tmp_path, env) as process:
            api.inject_message(CHAT, "/start")
            api.inject_message(CHAT, TEXT)
            api.inject_contact(CHAT, "+46701234567")
            api.block_chat(CHAT + 1)
            api.inject_message(CHAT + 1, TEXT)
            api.wait_for_sent(CHAT, 2, timeout=20)
            with httpx.Client(base_url=process.url) as client:
                client.get("/chat")
                client.get("/chat/api/messages")
                client.post("/chat/api/send", json={"text": TEXT})
        logs = process.logs()
    assert "utvag is running" in logs  # the log was captured
    for secret in (str(CHAT), str(CHAT + 1), "46701234567", TEXT, "Kalle", api.token, api.token.split(":")[1]):
        assert secret not in logs, secret
    if form == "json":
        lines = [json.loads(line) for line in logs.splitlines()]  # every line is one object
        assert all(set(line) >= {"time", "level", "logger", "event"} for line in lines)
        assert any(line["event"].startswith("utvag is running") and line["level"] == "INFO" for line in lines)


def test_a_json_line_keeps_the_redaction_and_the_traceback(capsys):
    from bot.logs import setup_logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging(form="json")
    try:
        try:
            raise KeyError(TEXT)
        except KeyError:
            logging.getLogger("utvag.json").exception("sending to %s failed", CHAT, extra={"ids": {"outbox": 12}})
    finally:
        root.handlers[:], root.level = handlers, level
    (line,) = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
    assert line["event"] == "sending to [redacted] failed" and line["level"] == "ERROR" and line["logger"] == "utvag.json"
    assert line["ids"] == {"outbox": 12} and line["traceback"].endswith("KeyError") and TEXT not in json.dumps(line)


def test_the_same_error_again_within_a_minute_is_counted_not_printed():
    from bot.logs import RepeatFilter

    now = [1000.0]
    repeats = RepeatFilter(window=60.0, monotonic=lambda: now[0])
    printed = []

    def log(message: str, level: int = logging.ERROR) -> None:
        record = logging.LogRecord("bot.dispatcher", level, __file__, 1, message, None, None)
        if repeats.filter(record):
            printed.append(record.getMessage())

    for _ in range(300):  # a second of a database outage
        log("dispatcher lane 0 failed; retrying")
        log("processing failed; retrying")
        now[0] += 1 / 300
    log("something else")
    log("a notice", logging.INFO)
    log("a notice", logging.INFO)  # below WARNING: always printed
    assert printed == ["dispatcher lane 0 failed; retrying", "processing failed; retrying", "something else", "a notice", "a notice"]
    now[0] += 60
    log("dispatcher lane 0 failed; retrying")
    log("dispatcher lane 0 failed; retrying")
    assert printed[-1] == "dispatcher lane 0 failed; retrying (and 299 more like it in the last 61 s)" and len(printed) == 6


def test_a_database_errors_reason_is_kept_and_carries_no_row(caplog):
    from sqlalchemy import create_engine, text

    logger = logging.getLogger("utvag.test3")
    logger.addFilter(RedactingFilter())
    unreachable = create_engine("postgresql+psycopg://utvag:hemligt@127.0.0.1:1/utvag")
    try:
        with unreachable.connect() as connection:
            connection.execute(text("select 1"))
    except Exception:
        logger.exception("processing failed; retrying")
    # A query the database refused quotes the row it was given; only its class is kept.
    local = create_engine("sqlite://")
    with local.begin() as connection:
        connection.execute(text("create table t (chat text unique)"))
        connection.execute(text("insert into t values ('Kalle')"))
    try:
        with local.begin() as connection:
            connection.execute(text("insert into t values (:chat)"), {"chat": "Kalle"})
    except Exception:
        logger.exception("storing failed")
    logger.removeFilter(logger.filters[0])
    first, second = (record.exc_text.splitlines()[-1] for record in caplog.records)
    assert first.startswith("OperationalError (OperationalError: connection failed: ") and "Connection refused" in first
    assert second == "IntegrityError (IntegrityError)"
    assert "hemligt" not in first and "Kalle" not in second  # (the traceback above them quotes this file's source)
