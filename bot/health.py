"""What `/healthz` reports: whether the database answers and which channels are up, so people can be reached.

With the runtime's clock given it also says, for whoever looks after the service: whether the migrations are at head,
whether this process runs the schedules and when it last ticked, the oldest waiting outbox row's age, and when each
channel last worked. Counts and ages only: nothing about anyone who writes, so it is the same for anonymous callers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, func, select, text

from storage.db import describe_error, migration_state
from storage.models import OutboxItem

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 3.0  # seconds: a monitor's request must not hang while the database server is away
STARTING = "not started yet"
PROBE_CACHE = 1.0  # seconds a probe's answer is reused, so a monitor polling hard cannot use up the worker threads


class Health:
    def __init__(self, database: Engine, monotonic: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.database = database
        self.monotonic = monotonic
        self.now = now  # the details below are reported only with a clock
        self.scheduler: Callable[[], tuple[bool, datetime | None]] | None = None  # (leader, last tick)
        self.last_success: dict[str, datetime] = {}  # channel name -> its last call that worked (a start, a send, a poll)
        self._facts: dict[str, object] = {}
        self.channels: dict[str, str | None] = {}  # name -> None when up, else why not (a class name, never a secret)
        self.failures: Counter[str] = Counter()  # failed starts by channel name
        self._probe: asyncio.Task[str | None] | None = None
        self._probed: tuple[float, str | None] | None = None
        self.stopping = False  # SIGTERM came: new work goes elsewhere while what was accepted is finished

    def channel_starting(self, name: str) -> None:
        self.channels[name] = STARTING

    def channel_up(self, name: str) -> None:
        self.channels[name] = None
        self.channel_worked(name)

    def channel_worked(self, name: str) -> None:
        if self.now is not None:
            self.last_success[name] = self.now()

    def channel_down(self, name: str, reason: str) -> None:
        self.channels[name] = reason
        self.failures[name] += 1

    def channel_ready(self, name: str) -> bool:
        """False only for a channel whose start failed (being tried again): one starting now may be sent through, as
        its first messages wait for it anyway."""
        return self.channels.get(name) in (None, STARTING)

    async def report(self) -> tuple[bool, dict[str, object]]:
        """(healthy, body). The body says what is down, not why: the reasons are in the log, not on a public URL."""
        database = await self.database_problem()
        channels = {name: "ok" if reason is None else "unavailable" for name, reason in sorted(self.channels.items())}
        healthy = database is None and all(reason is None for reason in self.channels.values()) and not self.stopping
        status = "stopping" if self.stopping else "ok" if healthy else "unavailable"
        body: dict[str, object] = {"status": status,
                                   "database": "ok" if database is None else "unavailable", "channels": channels}  # fmt: skip
        if self.now is not None:
            body.update(self._details(self.now()))
        return healthy, body

    def _details(self, now: datetime) -> dict[str, object]:
        def ago(moment: datetime | None) -> int | None:
            return None if moment is None else max(0, round((now - moment).total_seconds()))

        details: dict[str, object] = {"migrations": self._facts.get("migrations", "unknown")}
        if self.scheduler is not None:
            leader, ticked = self.scheduler()
            details["scheduler"] = {"role": "leader" if leader else "follower", "last_tick_seconds_ago": ago(ticked)}
        oldest = self._facts.get("oldest_pending")
        details["outbox"] = {"oldest_pending_seconds": ago(oldest) if isinstance(oldest, datetime) else 0}
        details["last_success_seconds_ago"] = {name: ago(self.last_success.get(name)) for name in sorted(self.channels)}
        return details

    async def database_problem(self) -> str | None:
        """None when the database answers a query now; otherwise why not."""
        if self._probed is not None and self.monotonic() - self._probed[0] < PROBE_CACHE:
            return self._probed[1]
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(asyncio.to_thread(self._ask_database))
        try:
            problem = await asyncio.wait_for(asyncio.shield(self._probe), PROBE_TIMEOUT)
        except TimeoutError:
            problem = f"no answer within {PROBE_TIMEOUT:.0f} s"
        if problem is not None:
            log.warning("health: the database does not answer (%s)", problem)  # the same again is counted, not printed
        self._probed = (self.monotonic(), problem)
        return problem

    def _ask_database(self) -> str | None:
        try:
            with self.database.connect() as connection:
                connection.execute(text("select 1"))
                if self.now is not None:
                    oldest = connection.scalar(select(func.min(OutboxItem.created_at)).where(OutboxItem.status == "pending"))
                    self._facts["oldest_pending"] = oldest
            if self.now is not None:
                current, head = migration_state(self.database)
                self._facts["migrations"] = "ok" if current == head else "behind"
        except Exception as exc:
            self._facts.clear()
            return describe_error(exc)
        return None
