"""The whole runtime in this process, on a controllable clock, against the stand-in Bot API."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

from bot.app import Runtime
from bot.clock import FrozenClock, SteppingClock
from bot.settings import load_settings
from tests.fakes.telegram_api import FakeBotAPI
from tests.runner import free_port

STAFF_CHAT = -1001234


class LiveBot:
    def __init__(self, tmp_path: Path, keys, api: FakeBotAPI, clock: FrozenClock, **settings: object) -> None:
        # Real time runs on (so retries fall due) from the test's start; tick() jumps ahead.
        self.api, self.clock = api, SteppingClock(clock.now())
        self.settings = load_settings(
            secret_keys=keys.secret, pseudonym_key=keys.pseudonym, database_url=f"sqlite:///{tmp_path}/live.db",
            telegram_token=api.token, telegram_api_url=api.base_url, telegram_poll_timeout=1, staff_chat_id=STAFF_CHAT,
            http_port=free_port(), **settings,
        )  # fmt: skip
        self.runtime = Runtime(self.settings, self.clock)
        self.thread = threading.Thread(target=asyncio.run, args=(self.runtime.run(),), daemon=True)

    def __enter__(self) -> LiveBot:
        self.thread.start()
        if not self.runtime.started.wait(20):
            raise AssertionError("the runtime did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.runtime.stop()
        self.thread.join(20)

    def tick(self, **advance: float) -> dict[str, int]:
        """Move the clock and run the timers once, as the timer loop would."""
        self.clock.advance(**advance)
        done = self.runtime.engine.run_timers(timedelta(minutes=self.settings.escalate_minutes), self.settings.oncall_phone)
        assert self.runtime._loop is not None
        self.runtime._loop.call_soon_threadsafe(self.runtime.dispatcher.wake.set)
        return done

    def posts(self) -> list[dict]:
        return self.api.sent(STAFF_CHAT)
