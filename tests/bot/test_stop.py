"""A clean stop of the real `utvag run`: SIGTERM takes nothing new, finishes what was accepted, exits 0; a second exits at once."""

import signal
import time

import httpx
import pytest
from sqlalchemy import func, select

from storage.db import make_engine, make_sessionmaker
from storage.models import Message, OutboxItem
from tests.fakes.telegram_api import FakeBotAPI
from tests.runner import UtvagProcess

pytestmark = pytest.mark.e2e  # starts `utvag`: CI runs it again under shifted clocks

CHATS = range(7001, 7021)


def environment(tmp_path, keys, api, **more: str) -> dict[str, str]:
    return {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/stop.db", "UTVAG_TELEGRAM_TOKEN": api.token,
            "UTVAG_TELEGRAM_API_URL": api.base_url, "UTVAG_TELEGRAM_POLL_TIMEOUT": "1", **more}  # fmt: skip


def test_sigterm_finishes_what_was_accepted_and_exits_0(tmp_path, keys):
    with FakeBotAPI() as api:
        env = environment(tmp_path, keys, api)
        process = UtvagProcess(tmp_path, env).start()
        updates = {api.inject_message(chat, "/start"): chat for chat in CHATS}
        api.wait_for_sent(CHATS[0], 1)  # it is working through them
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=30) == 0, process.logs()
        assert "utvag stopped" in process.logs()
        # Everything Telegram may now forget was stored, handled and answered, once; nothing is left waiting.
        confirmed = [chat for update_id, chat in updates.items() if update_id <= api.confirmed_update_id]
        assert confirmed and all(len(api.sent(chat)) == 1 for chat in confirmed)
        database = make_engine(env["UTVAG_DATABASE_URL"], create=False)
        with make_sessionmaker(database)() as session:
            unhandled = session.scalar(select(func.count()).where(Message.direction == "in", Message.processed_at.is_(None)))
            unsent = session.scalar(select(func.count()).where(OutboxItem.status.in_(("pending", "sending"))))
        database.dispose()
        assert unhandled == 0 and unsent == 0
        # What it had not taken is still Telegram's, and comes after a restart: every person is answered exactly once.
        with UtvagProcess(tmp_path, env):
            for chat in CHATS:
                api.wait_for_sent(chat, 1)
        assert all(len(api.sent(chat)) == 1 for chat in CHATS)


def test_while_stopping_new_work_is_refused_with_503_and_a_second_sigterm_exits_at_once(tmp_path, keys):
    with FakeBotAPI() as api:
        api.hang("sendMessage", record=False)  # the reply cannot be delivered: the stop waits for it
        process = UtvagProcess(tmp_path, environment(tmp_path, keys, api)).start()
        api.inject_message(CHATS[0], "/start")
        api.wait_for(lambda fake: len(fake.calls("sendMessage")) == 1)
        process.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while httpx.get(f"{process.url}/healthz").json()["status"] != "stopping":
            assert time.monotonic() < deadline, process.logs()
            time.sleep(0.02)
        health = httpx.get(f"{process.url}/healthz")
        assert health.status_code == 503 and health.json()["status"] == "stopping"
        refused = httpx.post(f"{process.url}/chat/api/send", json={"text": "hej"})
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        assert process.process.poll() is None  # still delivering within its time
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=5) == 128 + signal.SIGTERM
        assert "a second stop signal: exiting at once" in process.logs()


def test_the_outbox_gets_a_bounded_time(tmp_path, keys):
    with FakeBotAPI() as api:
        api.hang("sendMessage", record=False)
        process = UtvagProcess(tmp_path, environment(tmp_path, keys, api, UTVAG_STOP_SECONDS="1")).start()
        api.inject_message(CHATS[0], "/start")
        api.wait_for(lambda fake: len(fake.calls("sendMessage")) == 1)
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=8) == 0, process.logs()  # the default of 10 s would not be done by now
