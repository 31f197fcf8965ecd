"""Logs carry no personal data: not in what we log, not in what libraries log."""

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


def test_an_end_to_end_conversation_leaves_no_identifier_in_the_logs(tmp_path, keys):
    with FakeBotAPI() as api:
        api.fail_next("sendMessage", status=429, retry_after=1)  # a retry gets logged
        env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/utvag.db", "UTVAG_TELEGRAM_TOKEN": api.token,
               "UTVAG_TELEGRAM_API_URL": api.base_url, "UTVAG_TELEGRAM_POLL_TIMEOUT": "1"}  # fmt: skip
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
