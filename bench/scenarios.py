"""The benchmarks themselves. Each returns a dict of figures; bench.run runs each in a fresh process."""

from __future__ import annotations

import asyncio
import os
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
    database,
    daytime_anchor,
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
    cap = env_float("BENCH_ENGINE_SECONDS", 12)
    keys = Keys.fresh()
    chats = list(range(700_000, 700_000 + users))
    with StandIn() as api, database(db) as url:
        clock = BenchClock(daytime_anchor())
        _, _, conversation_engine = populate.prepare(url, populate.earlier(clock))
        populate.warm_users(conversation_engine, chats)
        settings = runtime_settings(keys, url, api.token, api.base_url)
        with RunningRuntime(settings, clock, lifted=lifted) as running:
            scripts = {chat: [("text", "meny" if n % 2 else f"hej, hur funkar det här? ({n})", "", False) for n in range(per_user)]
                       for chat in chats}  # fmt: skip
            total = users * per_user
            started = api.start_scripts(scripts)
            finished = api.wait_answered(total, cap)
            if not finished:
                api.stop_scripts()  # time is up: no new messages; those under way are still timed
                api.wait_settled(60)
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
        "users": users, "planned": total, "sent": len(steps), "answered": len(answered), "processed": processed, "complete": finished,
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
    """The stand-in's own capacity: sendMessage requests from a minimal keep-alive HTTP/1.1 client on asyncio streams
    in this process, 32 connections at a time (httpx's client tops out near 300 requests a second on this machine, below
    what the stand-in serves, so it would measure itself)."""
    from urllib.parse import urlencode, urlsplit

    count, connections = env_int("BENCH_STANDIN_REQUESTS", 6000), 32
    with StandIn() as api:
        url = urlsplit(f"{api.base_url}{api.token}/sendMessage")

        async def client(numbers: range) -> None:
            reader, writer = await asyncio.open_connection(url.hostname, url.port)
            for n in numbers:
                body = urlencode({"chat_id": str(800_000 + n % 500), "text": f"hej {n}"}).encode()
                writer.write(f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head[:40].decode())
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
                await reader.readexactly(length)
            writer.close()

        async def hammer() -> float:
            started = time.monotonic()
            await asyncio.gather(*(client(range(n, count, connections)) for n in range(connections)))
            return time.monotonic() - started

        elapsed = asyncio.run(hammer())
    return {"requests": count, "seconds": round(elapsed, 2), "rate": round(count / elapsed, 1)}


# -- 2. staff alert latency under mixed traffic ---------------------------------------------------------------


def alerts(db: str, lifted: bool = False) -> Result:
    """Mixed traffic at a fixed rate (questions, applications, danger); each session's alerting step is timed to
    the staff post that carries its tag. Alerts not posted by the end are counted at the time waited (censored)."""
    rate, seconds = env_float("BENCH_ALERT_RATE", 50), env_float("BENCH_ALERT_SECONDS", 12)
    drain, users = env_float("BENCH_ALERT_DRAIN", 10), env_int("BENCH_ALERT_USERS", 600)
    weights = {"question": 0.5, "application": 0.2, "danger": 0.3}
    keys = Keys.fresh()
    chats = list(range(600_000, 600_000 + users))
    with StandIn() as api, database(db) as url:
        clock = BenchClock(daytime_anchor())
        _, _, conversation_engine = populate.prepare(url, populate.earlier(clock))
        populate.warm_users(conversation_engine, chats)
        settings = runtime_settings(keys, url, api.token, api.base_url)
        with RunningRuntime(settings, clock, lifted=lifted):
            started = time.monotonic()
            api.start_mixed(chats, rate, seconds, weights)
            api.mixed_done(seconds + 30)
            injected_until = time.monotonic()
            deadline = injected_until + drain
            while time.monotonic() < deadline:
                if len({tag for tag, _, _ in api.staff_alerts()}) >= len(api.alert_marks_copy()):
                    break
                time.sleep(0.2)
            ended = time.monotonic()
            marks, posts, steps = api.alert_marks_copy(), api.staff_alerts(), api.steps()
            skipped = api.get("skipped_ticks")
    first: dict[str, float] = {}
    for tag, _, posted in posts:
        first[tag] = min(posted, first.get(tag, posted))
    latencies = [first[tag] - injected if tag in first else ended - injected for tag, injected in marks.items()]
    missing = sum(1 for tag in marks if tag not in first)
    answered = [step[4] - step[3] for step in steps if step[4] is not None]
    return {
        "offered_rate": rate, "injected": len(steps), "injected_rate": round(len(steps) / (injected_until - started), 1),
        "skipped_ticks": skipped, "alerts": len(marks), "alerts_posted": len(marks) - missing, "alerts_missing": missing,
        "waited_s": round(ended - injected_until, 1), **_latency_figures(latencies, "alert_"),
        "censored": missing > 0.01 * len(marks), **_latency_figures(answered, "reply_"),
        "unanswered_steps": sum(1 for step in steps if step[4] is None),
    }  # fmt: skip


# -- 3. danger replies while a large incident outreach drains (and 4a: Telegram pacing) --------------------------


def incident(db: str) -> Result:
    participants, dangers = env_int("BENCH_INCIDENT_PARTICIPANTS", 5000), env_int("BENCH_DANGER_MESSAGES", 20)
    interval, window = env_float("BENCH_DANGER_INTERVAL", 0.5), env_float("BENCH_DRAIN_WINDOW", 15)
    keys = Keys.fresh()
    people = list(range(500_000, 500_000 + participants))
    endangered = list(range(900_000, 900_000 + dangers))
    during_confirm = 900_000 + dangers  # writes in danger while the confirmation's transaction runs
    marker = "tänker på dig"
    with StandIn() as api, database(db) as url:
        clock = BenchClock(daytime_anchor())
        _, sessions, conversation_engine = populate.prepare(url, populate.earlier(clock))
        populate.warm_users(conversation_engine, [*endangered, during_confirm])
        seeded = time.monotonic()
        populate.enrol_participants(sessions, people, clock.now())
        seed_seconds = time.monotonic() - seeded
        populate.add_lead(sessions, clock.now(), LEAD)
        settings = runtime_settings(keys, url, api.token, api.base_url)
        with RunningRuntime(settings, clock):
            api.rate_limit(30, per_chat_per_second=1)
            asked = time.monotonic()
            api.inject_group_message(STAFF_CHAT, LEAD, "/incident")
            preview = api.wait_staff_post("Incidentutskick till", 120)
            if preview is None:
                raise RuntimeError("no incident preview within 120 s")
            previewed = time.monotonic()
            confirm = preview["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            confirmed = time.monotonic()
            api.inject_callback(STAFF_CHAT, confirm, message_id=preview["message_id"], from_user=LEAD)
            time.sleep(1.0)
            api.track(during_confirm, "#c0 de hotar att skjuta mig", "#c0")
            if api.wait_count(marker, 50, 180) < 50:
                raise RuntimeError("the outreach did not start within 180 s")
            draining = time.monotonic()
            for number, chat in enumerate(endangered):
                api.track(chat, f"#d{number} de hotar att skjuta mig", f"#d{number}")
                time.sleep(interval)
            api.wait_answered(dangers, 60)
            time.sleep(max(0.0, draining + window - time.monotonic()))
            sends, steps = api.sends(), api.steps()
            too_many, statuses = api.get("too_many"), api.status_counts()
    outreach = [t for t, chat, text in sends if marker in text and chat != str(STAFF_CHAT)]
    first_outreach = min(outreach)
    # the pacing window: from the 50th outreach message (the drain is under way) for `window` seconds
    start, end = draining, draining + window
    in_window = [t for t, _, _ in sends if start <= t < end]
    bulk_in_window = [t for t in outreach if start <= t < end]
    danger = [step[4] - step[3] for step in steps if step[1].startswith("#d") and step[4] is not None]
    confirming = next((step[4] - step[3] for step in steps if step[1] == "#c0" and step[4] is not None), None)
    first_danger = min((step[3] for step in steps if step[1].startswith("#d")), default=draining)
    timeline = {"danger_ms_in_order": [None if step[4] is None else round((step[4] - step[3]) * 1000) for step in steps
                                       if step[1].startswith("#d")],
                "staff_posts_s": [round(t - first_danger, 2) for t, chat, _ in sends if chat == str(STAFF_CHAT) and t >= first_danger]}
    return {
        "participants": participants, "seed_s": round(seed_seconds, 1), "preview_s": round(previewed - asked, 2),
        "confirm_to_first_s": round(first_outreach - confirmed, 2), "outreach_sent": len(outreach),
        "dangers": dangers, "danger_answered": len(danger), **_latency_figures(danger, "danger_"),
        "danger_during_confirm_ms": _ms(confirming),
        "window_s": window, "bulk_rate": round(len(bulk_in_window) / window, 2), "total_rate": round(len(in_window) / window, 2),
        "too_many": too_many, "statuses": statuses, "staff_posts": sum(1 for _, chat, _ in sends if chat == str(STAFF_CHAT)),
        **(timeline if os.environ.get("BENCH_TIMELINE") else {}),
    }  # fmt: skip


# -- 4b. SMS pacing ------------------------------------------------------------------------------------------------


def sms_pacing(db: str) -> Result:
    """The Twilio channel (constructed here: segments_per_second is a constructor parameter, the Runtime leaves it at
    1.0) and the real Dispatcher drain bulk SMS against a stand-in that refuses (429) beyond 10 segments a second."""
    from bot.channels.twilio import TwilioChannel
    from bot.dispatcher import Dispatcher
    from storage.contacts import find_or_create_identity
    from storage.outbox import queue_to_contact

    count, limit = env_int("BENCH_SMS_MESSAGES", 100), env_float("BENCH_SMS_RATE", 10)
    Keys.fresh()
    short = "Hej, det är SIG. Hur är läget? Svara när du vill."
    long = "Hej, det är SIG. " + "Vi vill höra hur det går för dig och om du behöver något inför veckan som kommer. " * 2
    with StandIn("twilio") as api, database(db) as url:
        api.limit(limit)
        clock = BenchClock(daytime_anchor())
        database_engine, sessions, _ = populate.prepare(url, clock)
        with sessions.begin() as session:
            for n in range(count):
                identity = find_or_create_identity(session, "sms", f"+4670{1_000_000 + n}", clock.now())
                queue_to_contact(session, contact_id=identity.contact_id, identity_id=identity.id, channel="sms",
                                 text=long if n % 3 == 0 else short, now=clock.now(), lane=1)  # fmt: skip
        channel = TwilioChannel(api.info["account_sid"], api.info["auth_token"], sessions=sessions, public_url="http://127.0.0.1:9",
                                api_url=api.url, sms_from="+46700000001", segments_per_second=limit, now=clock.now)  # fmt: skip
        dispatcher = Dispatcher(sessions, {"sms": channel}, clock)

        async def nothing_comes_in(_inbound: Any) -> Any:
            raise AssertionError("no inbound SMS in this benchmark")

        async def drain() -> float:
            await channel.start(nothing_comes_in)  # as the Runtime starts it
            lanes = [asyncio.create_task(dispatcher.run(lane)) for lane in (0, 1)]
            started = time.monotonic()
            deadline = started + env_float("BENCH_SMS_TIMEOUT", 90)
            while time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                with sessions() as session:
                    from storage.models import OutboxItem

                    if not session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status != "sent")):
                        break
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
            return started

        asyncio.run(drain())
        accepted, refused = api.get("accepted"), api.get("refused")
        database_engine.dispose()
    times = [at for at, _ in accepted]
    segments = sum(units for _, units in accepted)
    first, last = min(times), max(times)
    # steady state: leave out the first second, which the pacer's first window fills at once
    steady = sum(units for at, units in accepted if at >= first + 1.0)
    return {
        "messages": count, "delivered": len(accepted), "segments": segments, "refused_429": refused,
        "seconds": round(last - first, 2), "rate": round(segments / (last - first), 2) if last > first else None,
        "steady_rate": round(steady / (last - first - 1.0), 2) if last - first > 1.0 else None, "limit": limit,
    }  # fmt: skip


# -- 5. 100,000 weekly check-ins: start-up, memory, lateness ----------------------------------------------------------


def schedules(db: str) -> Result:
    """100,000 enrolled participants with weekly check-ins; 2,000 of them fall due, spread over a window. The Runtime
    runs in a process of its own (bench.runtime_child), so its memory is its own."""
    import json
    import subprocess
    import sys

    from storage.models import OutboxItem

    total, due_count = env_int("BENCH_SCHEDULES", 100_000), env_int("BENCH_DUE", 2000)
    window, lead, drain = env_float("BENCH_DUE_WINDOW", 80), env_float("BENCH_DUE_LEAD", 6), env_float("BENCH_DUE_DRAIN", 60)
    keys = Keys.fresh()
    chats = list(range(1_000_000, 1_000_000 + total))
    with StandIn() as api, database(db) as url:
        api.rate_limit(30, per_chat_per_second=1)
        clock = BenchClock(daytime_anchor())
        database_engine, sessions, _ = populate.prepare(url, clock)
        seeded = time.monotonic()
        case_ids = populate.enrol_participants(sessions, chats, clock.now())
        base = clock.now() + timedelta(seconds=lead)
        due = [base + timedelta(seconds=window * n / due_count) for n in range(due_count)]
        later = [clock.now() + timedelta(days=1 + n % 6, minutes=n % 600) for n in range(total - due_count)]
        populate.add_schedules(sessions, case_ids, due + later, clock.now())
        seed_seconds = time.monotonic() - seeded
        database_engine.dispose()
        due_of_case = dict(zip(case_ids[:due_count], due, strict=True))
        due_of_chat = {str(chat): moment for chat, moment in zip(chats[:due_count], due, strict=True)}
        arguments = {"url": url, "secret": keys.secret, "pseudonym": keys.pseudonym, "token": api.token, "base_url": api.base_url,
                     "start": clock.start.isoformat(), "origin": clock.origin}  # fmt: skip
        child = subprocess.Popen([sys.executable, "-m", "bench.runtime_child", json.dumps(arguments)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert child.stdin is not None and child.stdout is not None
        started = json.loads(child.stdout.readline())
        finish = clock.monotonic_of(due[-1]) + drain
        marker = "Hur är läget?"
        while time.monotonic() < finish and api.count_sends(marker) < due_count:
            time.sleep(0.5)
        child.stdin.write("stop\n")
        child.stdin.flush()
        stopped = json.loads(child.stdout.readline())
        child.wait(30)
        sends = api.sends()
        too_many = api.get("too_many")
        from storage.db import make_engine, make_sessionmaker

        reader = make_engine(url)
        with make_sessionmaker(reader)() as session:
            rows = session.execute(select(OutboxItem.case_id, OutboxItem.created_at).where(OutboxItem.kind == "checkin")).all()
        reader.dispose()
    queued = [(created - due_of_case[case_id]).total_seconds() for case_id, created in rows if case_id in due_of_case]
    arrived: dict[str, float] = {}
    for at, chat, text in sends:
        if marker in text and chat in due_of_chat:
            arrived.setdefault(chat, at)
    delivered = [at - clock.monotonic_of(due_of_chat[chat]) for chat, at in arrived.items()]
    return {
        "schedules": total, "due": due_count, "seed_s": round(seed_seconds, 1), "window_s": window, **started, **stopped,
        "queued": len(queued), "delivered": len(delivered), "too_many": too_many,
        "queued_p50_s": _s(percentile(queued, 0.5)), "queued_p99_s": _s(percentile(queued, 0.99)),
        "delivered_p50_s": _s(percentile(delivered, 0.5)), "delivered_p99_s": _s(percentile(delivered, 0.99)),
    }  # fmt: skip


def _s(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 2)
