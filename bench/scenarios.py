"""The benchmarks themselves. Each returns a dict of figures; bench.run runs each in a fresh process."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bench import populate
from bench.common import (
    LEAD,
    STAFF_CHAT,
    BenchClock,
    Keys,
    RunningRuntime,
    daytime_anchor,
    database,
    env_float,
    env_int,
    percentile,
    runtime_settings,
)
from bench.standin import StandIn

Result = dict[str, Any]


def _latency_figures(latencies: list[float], prefix: str = "") -> Result:
    return {f"{prefix}p50_ms": _ms(percentile(latencies, 0.50)), f"{prefix}p99_ms": _ms(percentile(latencies, 0.99)),
            f"{prefix}max_ms": _ms(max(latencies) if latencies else None)}  # fmt: skip


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


# -- 1. engine throughput and latency -------------------------------------------------------------------


def engine(db: str, lifted: bool = False) -> Result:
    """N people each send M messages, each waiting for the answer to the last; every message gets exactly one answer
    ("meny" -> the menu, free text at the menu -> "did you mean to ask this?")."""
    users, per_user = env_int("BENCH_USERS", 200), env_int("BENCH_MESSAGES", 10)
    timeout = env_float("BENCH_ENGINE_TIMEOUT", 150)
    keys = Keys.fresh()
    chats = list(range(700_000, 700_000 + users))
    with StandIn() as api, database(db) as url:
        clock = BenchClock(daytime_anchor())
        _, _, conversation_engine = populate.prepare(url, clock)
        populate.warm_users(conversation_engine, chats)
        settings = runtime_settings(keys, url, api.token, api.base_url)
        with RunningRuntime(settings, clock, lifted=lifted) as running:
            scripts = {chat: [("text", "meny" if n % 2 else f"hej, hur funkar det här? ({n})", "", False) for n in range(per_user)]
                       for chat in chats}  # fmt: skip
            total = users * per_user
            started = api.start_scripts(scripts)
            finished = api.wait_answered(total, timeout)
            steps = api.steps()
            startup = running.startup_seconds
            with running.runtime.sessions() as session:
                from storage.models import Message

                processed = session.scalar(select(func.count()).select_from(Message).where(
                    Message.direction == "in", Message.provider_id.not_like("warm-%"), Message.processed_at.is_not(None)))  # fmt: skip
    answered = [step for step in steps if step[4] is not None]
    latencies = [step[4] - step[3] for step in answered]
    end = max(step[4] for step in answered) if answered else started
    elapsed = end - started
    return {
        "messages": total, "answered": len(answered), "processed": processed, "complete": finished,
        "seconds": round(elapsed, 2), "rate": round(len(answered) / elapsed, 1) if elapsed > 0 else None,
        "startup_s": round(startup, 2), **_latency_figures(latencies),
    }  # fmt: skip


# -- the baselines: a bare python-telegram-bot echo bot, and the stand-in alone ----------------------------


def echo(db: str = "none", concurrent: bool = False) -> Result:
    """python-telegram-bot's echo example (Application, polling, a MessageHandler that replies with the text), no
    database, against the same stand-in and the same simulated people."""
    import threading

    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    users, per_user = env_int("BENCH_USERS", 200), env_int("BENCH_MESSAGES", 10)
    chats = list(range(700_000, 700_000 + users))
    with StandIn() as api:
        async def reply(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None
            await update.message.reply_text(update.message.text or "")

        builder = Application.builder().token(api.token).base_url(api.base_url)
        if concurrent:
            builder = builder.concurrent_updates(True)
        application = builder.build()
        application.add_handler(MessageHandler(filters.TEXT, reply))
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        async def serve() -> None:
            async with application:
                await application.updater.start_polling(timeout=10, poll_interval=0)  # type: ignore[union-attr]
                await application.start()
                ready.set()
                await stop.wait()
                await application.updater.stop()  # type: ignore[union-attr]
                await application.stop()

        ready = threading.Event()
        thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
        thread.start()
        ready.wait(30)
        scripts = {chat: [("text", f"hej, hur funkar det här? ({n})", "", False) for n in range(per_user)] for chat in chats}
        started = api.start_scripts(scripts)
        api.wait_answered(users * per_user, 120)
        steps = api.steps()
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
    answered = [step for step in steps if step[4] is not None]
    elapsed = max(step[4] for step in answered) - started
    latencies = [step[4] - step[3] for step in answered]
    return {"messages": users * per_user, "answered": len(answered), "seconds": round(elapsed, 2),
            "rate": round(len(answered) / elapsed, 1), **_latency_figures(latencies)}  # fmt: skip


def standin_alone(db: str = "none") -> Result:
    """The stand-in's own capacity: an httpx client in this process hammering sendMessage, 32 requests at a time."""
    import httpx

    count, concurrency = env_int("BENCH_STANDIN_REQUESTS", 4000), 32
    with StandIn() as api:
        url = f"{api.base_url}{api.token}/sendMessage"

        async def hammer() -> float:
            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=30) as client:
                queue: asyncio.Queue[int] = asyncio.Queue()
                for n in range(count):
                    queue.put_nowait(n)

                async def worker() -> None:
                    while not queue.empty():
                        n = queue.get_nowait()
                        response = await client.post(url, data={"chat_id": str(800_000 + n % 500), "text": f"hej {n}"})
                        response.raise_for_status()

                started = time.monotonic()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return time.monotonic() - started

        elapsed = asyncio.run(hammer())
    return {"requests": count, "seconds": round(elapsed, 2), "rate": round(count / elapsed, 1)}
