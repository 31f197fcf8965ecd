"""What every benchmark shares: sizes from the environment, databases, keys, a clock, the Runtime in a thread, statistics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from storage.crypto import Keyring, new_pseudonym_key, new_secret_key, use_keyring

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", os.environ.get("UTVAG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
STAFF_CHAT = -1001234  # as tests.live.STAFF_CHAT
LEAD = 111  # the staff member's Telegram id
RESULTS = Path(__file__).parent / "results"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# -- keys --------------------------------------------------------------------------------------------


@dataclass
class Keys:
    secret: str
    pseudonym: str

    @classmethod
    def fresh(cls) -> Keys:
        keys = cls(new_secret_key(), new_pseudonym_key())
        use_keyring(Keyring([keys.secret], keys.pseudonym))
        return keys


# -- databases ---------------------------------------------------------------------------------------


def postgres_reason() -> str | None:
    """None when the PostgreSQL server answers, otherwise why not."""
    try:
        probe = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
        with probe.connect() as connection:
            connection.execute(text("select 1"))
        probe.dispose()
        return None
    except Exception as exc:
        return f"no PostgreSQL at {POSTGRES_URL.split('@')[-1]}: {type(exc).__name__}"


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file in a temporary folder, or a PostgreSQL schema `bench_<hex>`."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="utvag-bench-") as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    schema = f"bench_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()


# -- time ----------------------------------------------------------------------------------------------


def daytime_anchor() -> datetime:
    """A past working day at 11:00 UTC (12:00 or 13:00 in Stockholm): office open, no quiet hours, past the digest.

    The Runtime runs on a clock that starts there and moves with real time, so a run at night behaves like one at
    midday, and the scheduler's first tick (planned at clock.now()) is due at once."""
    from handlers.calendar import is_open
    from handlers.profile import load_profile

    profile = load_profile()
    day = datetime.now(UTC).date() - timedelta(days=1)
    for _ in range(30):
        moment = datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC)
        if is_open(profile, moment):
            return moment
        day -= timedelta(days=1)
    raise RuntimeError("no open working day in the last month")


class BenchClock:
    """`start` at the monotonic instant `origin`, then real time: the same mapping in every process of a run."""

    def __init__(self, start: datetime, origin: float | None = None) -> None:
        self.start = start
        self.origin = time.monotonic() if origin is None else origin

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.origin)

    def monotonic_of(self, moment: datetime) -> float:
        return self.origin + (moment - self.start).total_seconds()


# -- the Runtime ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def runtime_settings(keys: Keys, database_url: str, api_token: str, api_base_url: str) -> Any:
    from bot.settings import load_settings

    return load_settings(
        secret_keys=keys.secret, pseudonym_key=keys.pseudonym, database_url=database_url, telegram_token=api_token,
        telegram_api_url=api_base_url, telegram_poll_timeout=10, staff_chat_id=STAFF_CHAT, http_port=free_port(),
    )  # fmt: skip


def lift_telegram_pacing(runtime: Any) -> None:
    """Bench-only diagnostic: take away the Telegram channel's pacing (`_pace`), so what is left is the engine, the
    database and the dispatcher. Never part of a goal figure."""
    import bot.channels.telegram as telegram

    telegram.OVERALL_PER_SECOND = telegram.BULK_PER_SECOND = telegram.GROUP_BURST = telegram.GROUP_PER_MINUTE = 1_000_000
    telegram.GROUP_INTERVAL = telegram.BULK_INTERVAL_PER_CHAT = 0.0


class RunningRuntime:
    """The real Runtime on its own event loop in a thread, as tests/live.py runs it."""

    def __init__(self, settings: Any, clock: Any, lifted: bool = False) -> None:
        from bot.app import Runtime

        started = time.monotonic()
        self.runtime = Runtime(settings, clock)
        if lifted:
            lift_telegram_pacing(self.runtime)
        self.thread = threading.Thread(target=asyncio.run, args=(self.runtime.run(),), name="runtime", daemon=True)
        self.thread.start()
        if not self.runtime.started.wait(60):
            raise RuntimeError("the runtime did not start")
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        self.runtime.stop()
        self.thread.join(30)

    def __enter__(self) -> RunningRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- statistics ----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, amount, _unit = line.split()
            values[name] = int(amount) / 1024
    return values.get("VmRSS:", 0.0), values.get("VmHWM:", 0.0)


def setup_logging(path: Path | None = None) -> None:
    handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    for name in ("httpx", "httpcore", "telegram", "apscheduler", "uvicorn", "twilio"):
        logging.getLogger(name).setLevel(logging.WARNING)


def dump(value: Any) -> str:
    return json.dumps(value, default=str)
