"""The whole runtime in this process, on a controllable clock, against the stand-in Bot API."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from bot.app import Runtime
from bot.clock import FrozenClock, SteppingClock
from bot.settings import load_settings
from storage.models import JobRun
from tests.fakes.telegram_api import FakeBotAPI
from tests.runner import free_port, require_e2e_mark

STAFF_CHAT = -1001234


class LiveBot:
    def __init__(self, tmp_path: Path, keys, api: FakeBotAPI, clock: FrozenClock, *, digest_posted: bool = True,
                 **settings: object) -> None:  # fmt: skip
        """The scheduler ticks from the start. The test clock's moment (11:00 on a Tuesday) lies in the morning digest's
        window, so the staff group has had today's digest already unless `digest_posted` is False: then the digest is
        the group's first post."""
        require_e2e_mark()
        # Real time runs on (so retries fall due) from the test's start; tick() jumps ahead.
        self.api, self.clock = api, SteppingClock(clock.now())
        self.settings = load_settings(**{
            "secret_keys": keys.secret, "pseudonym_key": keys.pseudonym, "database_url": f"sqlite:///{tmp_path}/live.db",
            "telegram_token": api.token, "telegram_api_url": api.base_url, "telegram_poll_timeout": 1, "staff_chat_id": STAFF_CHAT,
            "http_port": free_port(), **settings,
        })  # fmt: skip
        self.runtime = Runtime(self.settings, self.clock)
        if digest_posted:
            local_day = clock.now().astimezone(self.runtime.profile.office_hours.zone).date().isoformat()
            with self.runtime.sessions.begin() as session:
                session.add(JobRun(job="digest", period=local_day, at=clock.now()))
        self.thread = threading.Thread(target=asyncio.run, args=(self.runtime.run(),), daemon=True)

    def __enter__(self) -> LiveBot:
        self.thread.start()
        if not self.runtime.started.wait(20):
            raise AssertionError("the runtime did not start")
        # Every live test runs with the scheduler ticking beside it, whatever the wall clock says.
        if not self.runtime.scheduler.ticked.wait(20):
            raise AssertionError("the scheduler did not tick")
        return self

    def __exit__(self, *exc: object) -> None:
        self.runtime.stop()
        self.thread.join(20)

    def tick(self, **advance: float) -> dict[str, int]:
        """Move the clock and do at once what the scheduler's full tick does, returning what it did. The move and the
        work happen under the scheduler's own lock, so its ticking cannot take the work the move brings."""
        done = self.runtime.scheduler.run_now(before=lambda: self.clock.advance(**advance))
        self.runtime.wake_dispatcher()
        return done

    def posts(self) -> list[dict]:
        return self.api.sent(STAFF_CHAT)
