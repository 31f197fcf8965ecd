"""The scheduler: one elected process on PostgreSQL, exactly-once sends, and outreach at Telegram's pace."""

import asyncio
import json
import secrets
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, text

from bot.channels.base import InboundMessage
from bot.scheduler import FULL_TICK_SECONDS, TICK_SECONDS, Scheduler
from handlers import checkins, schedule
from handlers.profile import load_profile
from handlers.turn import Inbound
from storage.cases import open_case
from storage.models import Case, Message, OutboxItem
from storage.staff import add_staff
from tests.fakes.telegram_api import FakeBotAPI
from tests.live import STAFF_CHAT, LiveBot


def enrol_people(engine, count: int, channel: str = "telegram", start: int = 500_000, live: bool = False) -> list[int]:
    """Participants as the engine makes them: each wrote once, then an enrolled application."""
    addresses = []
    for n in range(count):
        address = start + n
        engine.accept(InboundMessage(channel, f"seed-{address}", str(address), Inbound(kind="text", text="hej")))
        addresses.append(address)
    if live:  # the running engine handles them; wait for it
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.sessions() as session:
                if not session.scalar(select(func.count()).select_from(Message).where(Message.processed_at.is_(None))):
                    break
            time.sleep(0.1)
    else:
        engine.process_pending(limit=count + 10)
    with engine.sessions.begin() as session:
        from storage.models import Contact

        for contact_id in session.scalars(select(Contact.id)):
            case = open_case(session, contact_id=contact_id, kind="application", now=engine.clock.now())
            case.enrolled_at, case.state = engine.clock.now(), "claimed"
    return addresses


def scheduler_for(db, engine, lock_key: int | None = None) -> Scheduler:
    return Scheduler(engine, db.engine, escalate_after=timedelta(minutes=5), oncall_phone=None, on_work=lambda: None,
                     **({"lock_key": lock_key} if lock_key is not None else {}))  # fmt: skip


def terminate(db, scheduler: Scheduler) -> int:
    """pg_terminate_backend on the scheduler's lock connection, as a server restart would end it; returns once it is gone
    (the backend exits, and lets go of its locks, a moment after the signal)."""
    pid = scheduler._lock_connection.execute(text("select pg_backend_pid()")).scalar()
    with db.engine.begin() as admin:
        assert admin.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.engine.connect() as admin:
            if not admin.execute(text("select count(*) from pg_stat_activity where pid = :pid"), {"pid": pid}).scalar():
                return pid
        time.sleep(0.02)
    raise AssertionError("the terminated backend did not exit")


@pytest.mark.postgres
def test_two_schedulers_on_one_postgresql_elect_one_and_send_once(db, engine, clock):
    if db.kind != "postgresql":
        pytest.skip("the election is PostgreSQL's advisory lock; SQLite runs one process")
    enrol_people(engine, 5)
    profile = load_profile()
    with db.sessions.begin() as session:
        for case in session.scalars(select(Case)):
            checkins.set_schedule(session, case, schedule.parse_rule("varje onsdag 10:00", clock.now(), profile), clock.now(), profile)
    key = secrets.randbelow(2**62)  # the test's own lock: another suite on the same server may be using the product's
    one, two = scheduler_for(db, engine, key), scheduler_for(db, engine, key)
    try:
        assert one.elect() is True
        assert two.elect() is False
        clock.advance(hours=23)

        async def both() -> list[dict]:
            return await asyncio.gather(one.tick(), two.tick())

        first, second = asyncio.run(both())
        assert first.get("checkins_sent") == 5 and second == {}
        one.shutdown()  # the leader goes away: the other takes over (once the server has ended its session)
        deadline = time.monotonic() + 10
        while not two.elect():
            assert time.monotonic() < deadline, "the lock was not released"
            time.sleep(0.02)
        assert asyncio.run(two.tick()).get("checkins_sent") == 0  # nothing is sent twice
    finally:
        one.shutdown()
        two.shutdown()
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "checkin")) == 5


@pytest.mark.postgres
def test_a_leader_whose_lock_died_with_its_connection_steps_down(db, engine, clock):
    """A PostgreSQL restart ends every session, and the advisory lock with it; pg_terminate_backend of the leader's lock
    connection does the same to this test's own connection alone. Two "processes" (own engines, own pools): afterwards
    one runs the schedules, never both, and every check-in goes out once."""
    if db.kind != "postgresql":
        pytest.skip("the election is PostgreSQL's advisory lock; SQLite runs one process")
    from storage.db import make_engine

    enrol_people(engine, 4)
    profile = load_profile()
    with db.sessions.begin() as session:
        for case in session.scalars(select(Case)):
            checkins.set_schedule(session, case, schedule.parse_rule("varje onsdag 10:00", clock.now(), profile), clock.now(), profile)
    key = secrets.randbelow(2**62)  # this test's own lock: other suites on the same server use the product's
    databases = [make_engine(db.url), make_engine(db.url)]
    one, two = (Scheduler(engine, database, escalate_after=timedelta(minutes=5), oncall_phone=None, on_work=lambda: None,
                          lock_key=key) for database in databases)  # fmt: skip
    try:
        assert asyncio.run(one.tick()) != {} and one.leader
        assert asyncio.run(two.tick()) == {} and not two.leader
        terminate(db, one)
        clock.advance(hours=23)
        # The other process finds the lock free and takes it; the old leader, at its next tick, finds it lost and steps down.
        second = asyncio.run(two.tick())
        assert two.leader and second["checkins_sent"] == 4
        assert asyncio.run(one.tick()) == {} and not one.leader
        assert [asyncio.run(one.tick()), asyncio.run(two.tick())] == [{}, {"checkins_sent": 0, "checkins_skipped": 0,
                                                                             "checkins_waiting": 0, "incident_queued": 0}]  # fmt: skip
        # The new leader's own lock connection dies: nobody else wants it, so it steps down and is elected again.
        pid = terminate(db, two)
        assert two.elect() is True and two._lock_connection.execute(text("select pg_backend_pid()")).scalar() != pid
        assert one.elect() is False
    finally:
        one.shutdown()
        two.shutdown()
        for database in databases:
            database.dispose()
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "checkin")) == 4


def test_even_two_processes_that_both_act_send_each_check_in_once(db, engine, clock):
    enrol_people(engine, 20)
    profile = load_profile()
    with db.sessions.begin() as session:
        for case in session.scalars(select(Case)):
            checkins.set_schedule(session, case, schedule.parse_rule("varje onsdag 10:00", clock.now(), profile), clock.now(), profile)
    clock.advance(hours=23)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: engine.scheduled_work(timedelta(minutes=5), None), range(2)))
    assert sum(result["checkins_sent"] for result in results) == 20
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "checkin")) == 20


def test_the_digest_is_posted_once_on_a_working_morning(db, engine, clock):
    from datetime import UTC, datetime

    clock._now = datetime(2026, 12, 1, 7, 31, tzinfo=UTC)  # 08:31 in Stockholm, a Tuesday
    assert engine.scheduled_work(timedelta(minutes=5), None)["digest"] == 1
    assert "digest" not in engine.scheduled_work(timedelta(minutes=5), None)
    with db.sessions() as session:
        posts = [json.loads(item.payload)["text"] for item in session.scalars(select(OutboxItem).where(OutboxItem.target == "staff_group"))]
    assert posts[0].startswith("God morgon!")


@pytest.mark.e2e
def test_the_running_scheduler_posts_the_morning_digest_by_itself_once(tmp_path, keys, clock):
    """No test ticks here: the digest comes from the runtime's own scheduler, at once on start, whatever the wall
    clock says (the test clock's 11:00 on a Tuesday is in the digest's window)."""
    with FakeBotAPI() as api, LiveBot(tmp_path, keys, api, clock, digest_posted=False) as bot:
        (digest,) = api.wait_for_sent(STAFF_CHAT, 1)
        assert digest["text"].startswith("God morgon! Öppet: 0.")
        assert "digest" not in bot.tick(minutes=30)  # 11:30, still in the window: once a day
    assert len(api.sent(STAFF_CHAT)) == 1


@pytest.mark.e2e
def test_outreach_to_500_through_telegram_at_its_enforced_rate_with_no_429(tmp_path, keys, clock):
    with FakeBotAPI() as api, LiveBot(tmp_path, keys, api, clock) as bot:
        with bot.runtime.sessions.begin() as session:
            add_staff(session, name="Sara", role="lead", now=clock.now(), telegram_id="111")
        people = enrol_people(bot.runtime.engine, 500, live=True)
        bot.runtime.wake_dispatcher()
        api.wait_for(lambda fake: len(fake.sent()) >= 500, timeout=60)  # their greetings, before the limit is enforced
        api.rate_limit(30, per_chat_per_second=1)
        api.inject_group_message(STAFF_CHAT, 111, "/incident")
        (preview,) = api.wait_for_sent(STAFF_CHAT, 1)
        assert preview["text"].startswith("Incidentutskick till 500 deltagare.")
        confirm = preview["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        # confirm queues the first chunk; the scheduler, ticking beside the test since the start, queues the rest
        api.inject_callback(STAFF_CHAT, confirm, message_id=preview["message_id"], from_user=111)
        api.wait_for(lambda fake: sum("tänker på dig" in m["text"] for m in fake.sent()) >= 50, timeout=30)
        # while it drains, a person in danger is answered at once, ahead of the hundreds still waiting
        api.inject_message(people[-1], "de hotar att skjuta mig")
        api.wait_for(lambda fake: any("112" in (m["text"] or "") for m in fake.sent(people[-1])), timeout=20)
        assert sum("tänker på dig" in m["text"] for m in api.sent()) < 500
        api.wait_for(lambda fake: sum("tänker på dig" in m["text"] for m in fake.sent()) >= 500, timeout=90)
        api.inject_message(people[0], "JA")
        api.wait_for(lambda fake: any(m["text"].startswith("PRIORITERAT") for m in fake.sent(STAFF_CHAT)), timeout=20)
        refused = [call["params"].get("text", "")[:20] for call in api.calls("sendMessage") if call["status"] == 429]
        staff_calls = [(round(c["at"], 2), c["status"], c["params"].get("text", "")[:12]) for c in api.calls("sendMessage")
                       if str(c["params"].get("chat_id")) == str(STAFF_CHAT)]
        refused.append(staff_calls)
        assert api.too_many == 0, refused[:20]
        per_person = [len([m for m in api.sent(person) if "tänker på dig" in m["text"]]) for person in people]
        assert set(per_person) == {1}


def test_a_backlog_larger_than_a_batch_goes_out_in_one_tick(db, engine, clock):
    enrol_people(engine, checkins.BATCH + 20)
    profile = load_profile()
    with db.sessions.begin() as session:
        for case in session.scalars(select(Case)):
            checkins.set_schedule(session, case, schedule.parse_rule("varje onsdag 10:00", clock.now(), profile), clock.now(), profile)
    clock.advance(hours=23)
    assert engine.scheduled_work(timedelta(minutes=5), None)["checkins_sent"] == checkins.BATCH + 20


def test_due_check_ins_go_out_every_second_and_the_rest_every_full_tick(db, engine, clock):
    enrol_people(engine, 3)
    profile = load_profile()
    with db.sessions.begin() as session:
        for case in session.scalars(select(Case)):
            checkins.set_schedule(session, case, schedule.parse_rule("varje onsdag 10:00", clock.now(), profile), clock.now(), profile)
    scheduler = scheduler_for(db, engine)
    first = asyncio.run(scheduler.tick())  # the first tick does everything
    assert "reminded" in first and "incident_reports" in first and first["checkins_sent"] == 0
    clock.advance(hours=23)
    second = asyncio.run(scheduler.tick())  # a second later: only what is due (check-ins, outreach chunks), nothing else
    assert second == {"checkins_sent": 3, "checkins_skipped": 0, "checkins_waiting": 0, "incident_queued": 0}
    assert asyncio.run(scheduler.tick())["checkins_sent"] == 0
    scheduler._full_at = time.monotonic() - FULL_TICK_SECONDS
    assert "incident_reports" in asyncio.run(scheduler.tick())
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "checkin")) == 3


def test_the_tick_runs_every_second_never_twice_at_once_and_late_rather_than_never(sqlite_db, clock):
    from datetime import UTC, datetime

    from bot.engine import Engine
    from handlers.catalogue import Catalogue

    async def job(at: datetime) -> tuple[object, datetime]:
        clock._now = at
        engine = Engine(sqlite_db.sessions, clock, Catalogue.load(), load_profile())
        scheduler = scheduler_for(sqlite_db, engine)
        scheduler.start()
        try:
            tick = scheduler.aps.get_job("tick")
            return tick, tick.next_run_time
        finally:
            scheduler.shutdown()

    for offset in (timedelta(days=30), timedelta(days=-3)):  # the engine's clock ahead of the wall or days behind it
        before = datetime.now(UTC)
        tick, first = asyncio.run(job(before + offset))
        assert tick.trigger.interval == timedelta(seconds=TICK_SECONDS) and TICK_SECONDS <= 2
        assert tick.coalesce is True and tick.max_instances == 1 and tick.misfire_grace_time is None
        # APScheduler runs in real time: the first tick is at once, never at the engine clock's moment
        assert before <= first <= datetime.now(UTC)


def leads(process) -> bool:
    """Whether a `utvag run` believes it runs the schedules: its last word on it in its log."""
    said = [line for line in process.logs().splitlines() if "now runs the schedules" in line or "stepping down" in line]
    return bool(said) and "now runs the schedules" in said[-1]


@pytest.mark.postgres
@pytest.mark.e2e
def test_after_a_postgresql_restart_two_processes_have_one_scheduler(tmp_path, keys, postgres_behind_a_proxy):
    """Two `utvag run` on one PostgreSQL; the server "restarts" (every connection through the proxy is cut, new ones are
    refused, then it is back). The old leader's lock died with its connection: it must step down, and afterwards
    exactly one process runs the schedules."""
    from bot.scheduler import LEADER_LOCK, lock_key_for
    from tests.runner import UtvagProcess

    assert lock_key_for("public") == LEADER_LOCK and lock_key_for("t_1") != lock_key_for("t_2")
    url, proxy = postgres_behind_a_proxy
    env = {**keys.env(), "UTVAG_DATABASE_URL": url}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    def wait_until(predicate, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, [process.logs()[-2000:] for process in processes]
            time.sleep(0.05)

    with UtvagProcess(tmp_path / "a", env) as first:
        processes = [first]
        wait_until(lambda: leads(first))
        with UtvagProcess(tmp_path / "b", env) as second:
            processes.append(second)
            assert not leads(second)
            proxy.cut()
            wait_until(lambda: "stepping down" in first.logs())  # its next tick found the lock gone with its session
            proxy.restore()
            wait_until(lambda: all(httpx.get(f"{process.url}/healthz").status_code == 200 for process in processes))
            wait_until(lambda: sum(leads(process) for process in processes) == 1)
            # Both tick every second on the wall clock (a subprocess has no clock to move): over the next three ticks
            # the other process tries to be elected three times and must fail each time.
            settled = time.monotonic() + 3 * TICK_SECONDS
            while time.monotonic() < settled:
                assert sum(leads(process) for process in processes) == 1
                time.sleep(0.1)
