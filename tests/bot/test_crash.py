"""SIGKILL `utvag run` at the worst moments; after a restart nothing accepted is lost and nothing is sent twice.

Each scenario runs RUNS times against one database and one stand-in Bot API; the process started to
recover from one kill is the one the next run kills. The figures are printed for the closing note.
"""

import os
import random
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select

from storage.models import Message, OutboxItem
from tests.fakes.telegram_api import FakeBotAPI
from tests.runner import UtvagProcess

RUNS = int(os.environ.get("UTVAG_CRASH_RUNS", "20"))
pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class Crashes:
    def __init__(self, api: FakeBotAPI, keys, tmp_path) -> None:
        self.api = api
        self.db = create_engine(f"sqlite:///{tmp_path}/utvag.db")
        self.env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/utvag.db", "UTVAG_TELEGRAM_TOKEN": api.token,
                    "UTVAG_TELEGRAM_API_URL": api.base_url, "UTVAG_TELEGRAM_POLL_TIMEOUT": "1"}  # fmt: skip
        self.tmp_path = tmp_path
        self.injected: list[int] = []
        self.process = UtvagProcess(tmp_path, self.env).start()
        self.chat = 100_000

    def new_chat(self) -> int:
        self.chat += 1
        return self.chat

    def inject(self, chat: int) -> None:
        self.injected.append(self.api.inject_message(chat, "/start"))

    def kill_and_restart(self) -> None:
        self.process.kill()
        self.api.unhang()
        self.process = UtvagProcess(self.tmp_path, self.env).start()

    def wait_for_db(self, *conditions, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.connect() as connection:
                if connection.scalar(select(func.count()).select_from(OutboxItem).where(*conditions)):
                    return
            time.sleep(0.02)
        raise AssertionError("the outbox never reached the expected state")

    def settle(self, timeout: float = 20) -> None:
        """Wait until every accepted message is handled and nothing is left to send."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.connect() as connection:
                unhandled = connection.scalar(select(func.count()).select_from(Message).where(
                    Message.direction == "in", Message.processed_at.is_(None)))  # fmt: skip
                waiting = connection.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending"))
            if not unhandled and not waiting and self.api.pending_updates == 0:
                return
            time.sleep(0.05)
        raise AssertionError("did not settle")

    def figures(self) -> dict[str, int]:
        with self.db.connect() as connection:
            stored = set(connection.scalars(select(Message.provider_id).where(Message.direction == "in")))
            statuses = Counter(connection.scalars(select(OutboxItem.status)))
        per_chat = Counter(sent["chat_id"] for sent in self.api.sent())
        return {
            "injected": len(self.injected),
            "lost_inbound": sum(str(update_id) not in stored for update_id in self.injected),
            "duplicate_sends": sum(count - 1 for count in per_chat.values() if count > 1),
            "delivered": statuses["sent"],
            "in_doubt_not_resent": statuses["sending"] + statuses["uncertain"],
        }

    def close(self) -> None:
        self.process.stop()
        self.db.dispose()


@pytest.fixture
def crashes(keys, tmp_path):
    with FakeBotAPI() as api:
        harness = Crashes(api, keys, tmp_path)
        yield harness
        harness.close()


def report(name: str, figures: dict[str, int]) -> None:
    print(f"\ncrash {name}: {RUNS} runs, " + ", ".join(f"{key} {value}" for key, value in figures.items()))


def test_killed_after_the_message_is_stored_and_before_the_reply_is_sent(crashes):
    api = crashes.api
    for _ in range(RUNS):
        chat = crashes.new_chat()
        api.fail_next("sendMessage", status=429, retry_after=1)  # the reply waits, committed but unsent
        crashes.inject(chat)
        crashes.wait_for_db(OutboxItem.status == "pending", OutboxItem.attempts >= 1)  # refused, retry recorded
        crashes.kill_and_restart()
        api.wait_for_sent(chat, 1, timeout=20)
    crashes.settle()
    figures = crashes.figures()
    report("(a) stored, reply unsent", figures)
    assert figures["lost_inbound"] == 0 and figures["duplicate_sends"] == 0
    assert figures["delivered"] == RUNS  # every reply still went out, once


def test_killed_after_a_send_and_before_it_is_marked(crashes):
    api = crashes.api
    for _ in range(RUNS):
        chat = crashes.new_chat()
        api.hang("sendMessage", record=True)  # Telegram has it; we never hear back
        crashes.inject(chat)
        api.wait_for_sent(chat, 1)
        crashes.kill_and_restart()
    probe = crashes.new_chat()
    crashes.inject(probe)
    api.wait_for_sent(probe, 1)
    crashes.settle()
    figures = crashes.figures()
    report("(b) sent, unmarked", figures)
    assert figures["lost_inbound"] == 0 and figures["duplicate_sends"] == 0
    assert figures["in_doubt_not_resent"] == RUNS


def test_killed_in_the_middle_of_a_batch(crashes):
    api = crashes.api
    rng = random.Random(20261127)
    for _ in range(RUNS):
        chats = [crashes.new_chat() for _ in range(20)]
        before = len(api.sent())
        for chat in chats:
            crashes.inject(chat)
        cut = rng.randint(1, 19)
        api.wait_for(lambda fake, cut=cut, before=before: len(fake.sent()) - before >= cut)
        crashes.kill_and_restart()
    crashes.settle()
    figures = crashes.figures()
    report("(c) mid-batch", figures)
    assert figures["lost_inbound"] == 0 and figures["duplicate_sends"] == 0
    assert figures["delivered"] + figures["in_doubt_not_resent"] == RUNS * 20
