"""The scheduler: APScheduler ticks; the durable schedule lives in our tables; one process is elected to act.

Why our own tables and not APScheduler's job store: a schedule per participant (100,000 weekly check-ins in
the benchmark) would be 100,000 pickled jobs loaded at every start, and a job store cannot say "sent exactly
once" across a crash. Here every due thing is a row whose next moment moves forward in the same transaction
that queues its message, so a crash, a restart or a second process can neither lose nor repeat it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Connection, Engine, text

from bot.engine import Engine as ConversationEngine
from storage.db import describe_error

log = logging.getLogger(__name__)

TICK_SECONDS = 1  # a check-in is queued within about a second of its moment
FULL_TICK_SECONDS = 20  # the rest of Engine.scheduled_work: timers, outreach progress posts, digest and purge
LEADER_LOCK = 0x7574_7661  # "utva": the PostgreSQL advisory lock that elects the scheduling process


class Scheduler:
    def __init__(self, engine: ConversationEngine, database: Engine, *, escalate_after: timedelta, oncall_phone: str | None,
                 on_work: Callable[[], None], lock_key: int | None = None) -> None:  # fmt: skip
        self.engine, self.database, self.lock_key = engine, database, lock_key
        self.escalate_after, self.oncall_phone, self.on_work = escalate_after, oncall_phone, on_work
        self.aps = AsyncIOScheduler(timezone="UTC")
        self._lock_connection: Connection | None = None
        self.leader = database.dialect.name != "postgresql"  # SQLite is one process by design
        self._full_at: float | None = None  # time.monotonic() of the last full tick
        self._working = threading.Lock()  # one piece of scheduled work at a time, the tick's or run_now's
        self.ticked = threading.Event()  # set after the first tick has done its work: the scheduler is running
        self.last_tick: datetime | None = None  # on the engine's clock: /healthz says how long ago

    def start(self) -> None:
        # One in-memory job: what it acts on is in the database, so nothing here needs to survive a restart. Never
        # two ticks at once, a late tick runs once (coalesce) however late, and a slow one makes the next wait.
        # APScheduler's interval runs in real time, on the wall clock; what a tick acts on is decided by the engine's
        # own clock. The two are never compared: the first tick is at once, whatever date the engine's clock says.
        first = datetime.now(UTC)
        self.aps.add_job(self.tick, "interval", seconds=TICK_SECONDS, id="tick", replace_existing=True, coalesce=True,
                         max_instances=1, misfire_grace_time=None, next_run_time=first)  # fmt: skip
        self.aps.start()

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
        self._release()

    def wait_idle(self) -> None:
        """Return once no scheduled work is running (a tick's transaction in a worker thread finishes on its own)."""
        with self._working:
            pass

    def _release(self) -> None:
        if self._lock_connection is not None:
            # Closing the DBAPI connection (not just returning it to the pool) releases the advisory lock.
            try:
                self._lock_connection.invalidate()
                self._lock_connection.close()
            except Exception as exc:  # a connection the server already closed
                log.debug("closing the lock connection: %s", describe_error(exc))
            self._lock_connection = None

    async def tick(self) -> dict[str, int]:
        try:
            if not await asyncio.to_thread(self.elect):
                return {}
            done = await asyncio.to_thread(self.work)
        except Exception:
            log.exception("scheduled work failed; trying again at the next tick")
            return {}
        finally:
            self.last_tick = self.engine.clock.now()
            self.ticked.set()
        if any(done.values()):
            self.on_work()
        return done

    def work(self) -> dict[str, int]:
        """Engine.frequent_work (due check-ins, outreach chunks) every tick; all of Engine.scheduled_work every
        FULL_TICK_SECONDS.

        Outreach progress is posted whenever its numbers have changed, so every second would be a staff-group post
        a second during an outreach (Telegram lets a group have 20 a minute); the digest and purge try an INSERT
        into job_runs at every tick of their windows; the timers need no second's precision."""
        with self._working:
            started = time.monotonic()
            if self._full_at is None or started - self._full_at >= FULL_TICK_SECONDS:
                self._full_at = started
                return self.engine.scheduled_work(self.escalate_after, self.oncall_phone)
            return self.engine.frequent_work()

    def run_now(self, before: Callable[[], None] = lambda: None) -> dict[str, int]:
        """Do a full tick's work now, in the caller's thread, with `before` run first under the same lock: a test moves
        its clock there, so the ticking scheduler cannot take the work that the move brings and leave the caller none."""
        with self._working:
            before()
            self._full_at = time.monotonic()
            return self.engine.scheduled_work(self.escalate_after, self.oncall_phone)

    def elect(self) -> bool:
        """On PostgreSQL, hold an advisory lock on a connection of our own for as long as we live.

        The lock lives as long as that connection's session: a PostgreSQL restart, a terminated backend or a network cut
        ends it, and another process may take it at once. So a leader checks before every tick that its session still
        holds it; when not, it steps down and competes again like any other process."""
        if self.database.dialect.name != "postgresql":
            return True
        if self._lock_connection is not None:
            if self._still_holds():
                return True
            self._release()
            self.leader = False
        connection = self.database.connect()
        try:
            if self.lock_key is None:
                self.lock_key = lock_key_for(connection.execute(text("select current_schema()")).scalar())
            won = bool(connection.execute(text("select pg_try_advisory_lock(:key)"), {"key": self.lock_key}).scalar())
            connection.commit()
        except Exception:
            connection.invalidate()
            connection.close()
            raise
        if won:
            self._lock_connection, self.leader = connection, True
            log.info("this process now runs the schedules")
        else:
            connection.close()
        return won

    def _still_holds(self) -> bool:
        """Whether our lock connection's session holds the lock now (pg_locks shows a bigint key as classid and objid)."""
        assert self._lock_connection is not None and self.lock_key is not None
        try:
            held = self._lock_connection.execute(
                text("select exists(select 1 from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and granted"
                     " and classid = :high and objid = :low and objsubid = 1)"),
                {"high": (self.lock_key >> 32) & 0xFFFFFFFF, "low": self.lock_key & 0xFFFFFFFF},
            ).scalar()  # fmt: skip
            self._lock_connection.commit()
        except Exception as exc:
            log.warning("lost the connection that holds the scheduling lock (%s): stepping down", describe_error(exc))
            return False
        if not held:
            log.warning("this process no longer holds the scheduling lock: stepping down")
        return bool(held)


def lock_key_for(schema: str | None) -> int:
    """The election's lock key: LEADER_LOCK for a deployment in the `public` schema, one of its own for each other schema
    (advisory locks are per database, and deployments in two schemas of one database must not elect each other)."""
    if schema in (None, "public"):
        return LEADER_LOCK
    return (zlib.crc32(schema.encode()) & 0x7FFF_FFFF) << 32 | LEADER_LOCK
