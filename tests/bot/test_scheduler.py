"""The scheduler: one elected process on PostgreSQL, exactly-once sends, and outreach at Telegram's pace."""

import asyncio
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

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


def scheduler_for(db, engine) -> Scheduler:
    return Scheduler(engine, db.engine, escalate_after=timedelta(minutes=5), oncall_phone=None, on_work=lambda: None)


@pytest.mark.postgres
def test_two_schedulers_on_one_postgresql_elect_one_and_send_once(db, engine, clock):
    if db.kind != "postgresql":
        pytest.skip("the election is PostgreSQL's advisory lock; SQLite runs one process")
    enrol_people(engine, 5)
    profile = load_profile()
    with db.sessions.begin() as session:
        for case in session.scalars(select(Case)):
            checkins.set_schedule(session, case, schedule.parse_rule("varje onsdag 10:00", clock.now(), profile), clock.now(), profile)
    one, two = scheduler_for(db, engine), scheduler_for(db, engine)
    try:
        assert one.elect() is True
        assert two.elect() is False
        clock.advance(hours=23)

        async def both() -> list[dict]:
            return await asyncio.gather(one.tick(), two.tick())

        first, second = asyncio.run(both())
        assert first.get("checkins_sent") == 5 and second == {}
        one.shutdown()  # the leader goes away: the other takes over
        assert two.elect() is True
        assert asyncio.run(two.tick()).get("checkins_sent") == 0  # nothing is sent twice
    finally:
        one.shutdown()
        two.shutdown()
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "checkin")) == 5


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


def test_the_running_scheduler_posts_the_morning_digest_by_itself_once(tmp_path, keys, clock):
    """No test ticks here: the digest comes from the runtime's own scheduler, at once on start, whatever the wall
    clock says (the test clock's 11:00 on a Tuesday is in the digest's window)."""
    with FakeBotAPI() as api, LiveBot(tmp_path, keys, api, clock, digest_posted=False) as bot:
        (digest,) = api.wait_for_sent(STAFF_CHAT, 1)
        assert digest["text"].startswith("God morgon! Öppet: 0.")
        assert "digest" not in bot.tick(minutes=30)  # 11:30, still in the window: once a day
    assert len(api.sent(STAFF_CHAT)) == 1


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
