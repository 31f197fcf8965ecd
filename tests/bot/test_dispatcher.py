import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.channels.base import ChannelInfo, InboundMessage, Outbound, PermanentSendError, TransientSendError
from bot.dispatcher import STALE_AFTER, Dispatcher, RetryPolicy
from handlers.turn import Inbound
from storage.models import Case, OutboxItem
from storage.outbox import queue_to_staff


class RecordingChannel:
    """Records what would have been sent; fails on demand, in the order scripted."""

    name = "telegram"

    def __init__(self, idempotent: bool = False, delay: float = 0.0) -> None:
        self.info = ChannelInfo(idempotent_send=idempotent)
        self.sent: list[Outbound] = []
        self.failures: list[Exception] = []
        self.delay = delay

    async def start(self, accept) -> None: ...

    async def stop(self) -> None: ...

    async def pace(self, message: Outbound) -> None: ...

    def unpace(self, message: Outbound) -> None: ...

    async def send(self, message: Outbound) -> str | None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return f"id{len(self.sent)}"


def say(engine, address: str, body: str = "/start", provider_id: str | None = None) -> None:
    engine.accept(InboundMessage("telegram", provider_id or f"{address}-{body}", address, Inbound(kind="text", text=body)))
    engine.process_pending()


def statuses(db) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(select(OutboxItem.status).order_by(OutboxItem.id)))


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def dispatcher(db, clock, channel) -> Dispatcher:
    return Dispatcher(db.sessions, {"telegram": channel}, clock, RetryPolicy(max_attempts=3))


async def test_a_reply_is_delivered_once_and_marked(db, engine, dispatcher, channel):
    say(engine, "1001")
    assert await dispatcher.deliver_due(0) == 1
    assert await dispatcher.deliver_due(0) == 0
    assert [message.address for message in channel.sent] == ["1001"]
    assert channel.sent[0].options[0].label == "Svenska"
    assert statuses(db) == ["sent"]


async def test_a_rate_limit_is_honoured_then_the_message_goes_out(db, engine, dispatcher, channel, clock):
    channel.failures.append(TransientSendError("rate limited", retry_after=30))
    say(engine, "1002")
    assert await dispatcher.deliver_due(0) == 0
    clock.advance(seconds=29)
    assert await dispatcher.deliver_due(0) == 0
    clock.advance(seconds=2)
    assert await dispatcher.deliver_due(0) == 1
    assert len(channel.sent) == 1


async def test_back_off_grows_and_gives_up_after_the_limit(db, engine, dispatcher, channel, clock):
    channel.failures += [TransientSendError("network")] * 3
    say(engine, "1003")
    delays = []
    for _ in range(3):
        await dispatcher.deliver_due(0)
        with db.sessions() as session:
            item = session.scalar(select(OutboxItem))
        delays.append((item.next_attempt_at - clock.now()).total_seconds())
        clock.advance(hours=1)
    assert statuses(db) == ["failed"]
    assert 1 <= delays[0] <= 2 < delays[1] <= 4
    assert channel.sent == []


def test_the_back_off_has_jitter_and_a_cap():
    policy = RetryPolicy(base_seconds=2, cap_seconds=60)
    samples = {round(policy.delay(3, None), 3) for _ in range(20)}
    assert len(samples) > 1 and all(4 <= sample <= 8 for sample in samples)
    assert policy.delay(30, None) <= 60
    assert policy.delay(1, retry_after=120) == 120


async def test_a_person_who_blocked_the_bot_is_not_retried(db, engine, dispatcher, channel):
    channel.failures.append(PermanentSendError("blocked by the person"))
    say(engine, "1004")
    await dispatcher.deliver_due(0)
    assert statuses(db) == ["failed"]
    assert await dispatcher.deliver_due(0) == 0


async def test_an_address_gets_its_messages_in_order_even_when_one_is_retried(db, engine, dispatcher, channel, clock):
    say(engine, "1005", "/start")
    say(engine, "1005", "1")  # three more replies: intro, privacy and the menu
    channel.failures.append(TransientSendError("network"))
    await dispatcher.deliver_due(0)
    assert channel.sent == []  # the first failed, so the later two waited
    clock.advance(minutes=5)
    await dispatcher.deliver_due(0)
    assert [message.text.split()[0] for message in channel.sent] == ["Hej!", "Vi", "Det", "Vad"]


async def test_a_send_cut_off_by_a_crash_is_not_sent_again(db, engine, dispatcher, channel, clock):
    say(engine, "1006")
    with db.sessions.begin() as session:
        session.execute(update(OutboxItem).values(status="sending", claimed_at=clock.now()))
    clock.advance(seconds=STALE_AFTER.total_seconds() + 1)
    assert dispatcher.sweep_stale() == 1
    assert await dispatcher.deliver_due(0) == 0
    assert statuses(db) == ["uncertain"]
    assert channel.sent == []


async def test_a_cut_off_send_is_repeated_where_repeating_is_harmless(db, engine, clock):
    channel = RecordingChannel(idempotent=True)
    dispatcher = Dispatcher(db.sessions, {"telegram": channel}, clock)
    say(engine, "1007")
    with db.sessions.begin() as session:
        session.execute(update(OutboxItem).values(status="sending", claimed_at=clock.now() - timedelta(hours=1)))
    dispatcher.sweep_stale()
    assert await dispatcher.deliver_due(0) == 1
    assert statuses(db) == ["sent"]


async def test_a_reply_never_waits_behind_a_bulk_send(db, engine, clock):
    channel = RecordingChannel(delay=0.05)
    dispatcher = Dispatcher(db.sessions, {"telegram": channel}, clock)
    say(engine, "1008")  # an identity to send bulk to
    with db.sessions.begin() as session:
        first = session.scalar(select(OutboxItem))
        for n in range(60):
            session.add(OutboxItem(channel="telegram", lane=1, identity_id=first.identity_id, contact_id=first.contact_id,
                                   payload=json.dumps({"text": f"bulk {n}"}), status="pending", attempts=0,
                                   next_attempt_at=clock.now(), created_at=clock.now()))  # fmt: skip
    await dispatcher.deliver_due(0)  # the greeting goes first; the bulk rows now queue behind nothing
    bulk = asyncio.create_task(dispatcher.run(lane=1, idle_seconds=0.05))
    priority = asyncio.create_task(dispatcher.run(lane=0, idle_seconds=0.05))
    await asyncio.sleep(0.3)  # bulk is draining
    say(engine, "2008", provider_id="urgent")
    dispatcher.wake.set()
    for _ in range(100):
        if any(message.address == "2008" for message in channel.sent):
            break
        await asyncio.sleep(0.02)
    bulk_sent_before_reply = sum(1 for message in channel.sent if message.text.startswith("bulk"))
    bulk.cancel()
    priority.cancel()
    await asyncio.gather(bulk, priority, return_exceptions=True)
    assert any(message.address == "2008" for message in channel.sent)
    assert bulk_sent_before_reply < 60


async def test_a_reply_does_not_wait_for_a_bulk_message_to_the_same_person(db, engine, dispatcher, channel, clock):
    say(engine, "1009")
    await dispatcher.deliver_due(0)
    with db.sessions.begin() as session:
        first = session.scalar(select(OutboxItem))
        session.add(OutboxItem(channel="telegram", lane=1, identity_id=first.identity_id, contact_id=first.contact_id,
                               payload=json.dumps({"text": "bulk"}), status="pending", attempts=0,
                               next_attempt_at=clock.now() + timedelta(hours=1), created_at=clock.now()))  # fmt: skip
    say(engine, "1009", "1")
    assert await dispatcher.deliver_due(0) == 3


async def test_nothing_is_sent_after_a_person_opts_out_but_the_confirmation_is(db, engine, dispatcher, channel, clock):
    from storage.models import Contact

    say(engine, "1010")
    with db.sessions.begin() as session:
        contact = session.scalar(select(Contact))
        contact.stopped_at = clock.now()
    clock.advance(seconds=1)
    say(engine, "1010", "1")
    await dispatcher.deliver_due(0)
    assert [message.text.split()[0] for message in channel.sent] == ["Hej!"]
    assert statuses(db) == ["sent", "cancelled", "cancelled", "cancelled"]


async def test_a_timeout_after_the_request_went_out_is_never_resent(db, engine, dispatcher, channel):
    from bot.channels.base import UncertainSendError

    channel.failures.append(UncertainSendError("timed out"))
    say(engine, "1011")
    await dispatcher.deliver_due(0)
    assert statuses(db) == ["uncertain"]
    assert await dispatcher.deliver_due(0) == 0


async def test_an_unexpected_error_is_not_resent_either(db, engine, dispatcher, channel):
    channel.failures.append(KeyError("inline_keyboard"))
    say(engine, "1012")
    await dispatcher.deliver_due(0)
    assert statuses(db) == ["uncertain"]


class GroupWaitChannel(RecordingChannel):
    """Telegram as the dispatcher meets it when the staff group's turn is `group_wait` seconds away."""

    def __init__(self, group_wait: float) -> None:
        super().__init__()
        self.group_wait = group_wait

    async def pace(self, message: Outbound) -> None:
        if message.address.startswith("-"):
            await asyncio.sleep(self.group_wait)


def questions(engine, *addresses: str) -> None:
    from tests.handlers.test_ask import started

    for address in addresses:
        chat = started(engine, address=address)
        chat.press("Ställ en fråga")
        chat.send("Vad kostar det?")


async def test_a_staff_post_waiting_for_the_group_holds_back_no_reply(db, engine, clock):
    channel = GroupWaitChannel(group_wait=3.0)
    dispatcher = Dispatcher(db.sessions, {"telegram": channel}, clock, staff_chat_id=-100)
    with db.sessions.begin() as session:
        queue_to_staff(session, text="Ny fråga K-AAAA", now=clock.now())
    lane = asyncio.create_task(dispatcher.run(lane=0, idle_seconds=0.05))
    await asyncio.sleep(0.1)  # the staff post now waits for the group's turn
    say(engine, "3001")
    dispatcher.wake.set()
    for _ in range(50):
        if channel.sent:
            break
        await asyncio.sleep(0.02)
    lane.cancel()
    await asyncio.gather(lane, return_exceptions=True)
    assert [message.address for message in channel.sent] == ["3001"]  # the greeting went; the staff post still waits


async def test_a_calm_group_gets_one_post_per_alert(db, engine, clock):
    channel = GroupWaitChannel(group_wait=0.0)
    dispatcher = Dispatcher(db.sessions, {"telegram": channel}, clock, staff_chat_id=-100)
    questions(engine, "3101", "3102")
    await dispatcher.deliver_due(0)
    posts = [message for message in channel.sent if message.address == "-100"]
    assert [post.text.split()[:2] for post in posts] == [["Ny", "fråga"], ["Ny", "fråga"]]


async def test_alerts_that_waited_for_the_group_go_out_as_one_post_each_button_naming_its_case(db, engine, clock):
    from bot.dispatcher import JOIN_AFTER_WAIT

    channel = GroupWaitChannel(group_wait=JOIN_AFTER_WAIT + 0.1)
    dispatcher = Dispatcher(db.sessions, {"telegram": channel}, clock, staff_chat_id=-100)
    questions(engine, "3201", "3202", "3203")
    await dispatcher.deliver_due(0)
    (post,) = [message for message in channel.sent if message.address == "-100"]
    with db.sessions() as session:
        codes = list(session.scalars(select(Case.code).order_by(Case.id)))
        rows = session.scalars(select(OutboxItem).where(OutboxItem.target == "staff_group")).all()
    assert [line.split()[2].rstrip(":") for line in post.text.split("\n\n")] == codes
    assert {option.label.split(" · ")[0] for option in post.options} == set(codes)
    assert {(row.status, row.provider_message_id) for row in rows} == {("sent", f"id{len(channel.sent)}")}


async def test_a_busy_minutes_alerts_go_as_brief_lines_under_a_header_and_the_rest_wait_for_the_next_post(db, clock):
    from bot.dispatcher import JOIN_AFTER_WAIT
    from handlers.catalogue import Catalogue

    channel = GroupWaitChannel(group_wait=JOIN_AFTER_WAIT + 0.1)
    dispatcher = Dispatcher(db.sessions, {"telegram": channel}, clock, staff_chat_id=-100, catalogue=Catalogue.load())
    with db.sessions.begin() as session:
        for n in range(80):
            queue_to_staff(session, text=f"AKUT K-{n:04d}: fara. Svara nu. Meddelande: " + "de hotar mig " * 15, now=clock.now(),
                           options=[(f"claim:K-{n:04d}", "Jag tar det")])  # fmt: skip
    await dispatcher.deliver_due(0)
    post = channel.sent[0]
    header, *lines = post.text.split("\n")
    assert header.startswith(f"{len(lines)} inlägg kom på kort tid") and len(post.text) <= 4096 and post.options == ()
    assert lines[0].startswith("AKUT K-0000: fara.") and lines[0].endswith("…") and 40 < len(lines) < 80
    assert [m.text.count("AKUT K-") for m in channel.sent] == [len(lines), 80 - len(lines)]  # the rest in the next post
    assert statuses(db) == ["sent"] * 80


def test_reading_what_is_due_takes_the_same_few_statements_for_one_row_or_sixty(db, engine, clock):
    from sqlalchemy import event

    dispatcher = Dispatcher(db.sessions, {"telegram": RecordingChannel()}, clock, staff_chat_id=-100)
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    counts = []
    for rows in (1, 60):
        with db.sessions.begin() as session:
            session.execute(update(OutboxItem).values(status="sent"))
            for n in range(rows):
                queue_to_staff(session, text=f"post {n}", now=clock.now())
        say(engine, f"40{rows}")  # and a reply to a person, from the transcript
        statements.clear()
        assert len(dispatcher._due(0)) == rows + 1
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_the_answer_to_someone_in_danger_is_taken_before_older_replies(db, engine, clock):
    dispatcher = Dispatcher(db.sessions, {"telegram": RecordingChannel()}, clock)
    for n in range(5):
        say(engine, f"50{n}")  # five people greeted, their answers not yet sent
    say(engine, "509")
    engine.accept(InboundMessage("telegram", "danger", "509", Inbound(kind="text", text="de hotar att skjuta mig")))
    engine.process_pending()
    taken = [due for due in dispatcher._due(0, room=1) if due.target == "contact"]
    assert {due.outbound.address for due in taken} == {"509"}  # their greeting still goes first, in order
    assert taken[-1].outbound.urgent and "112" in taken[-1].outbound.text


async def test_an_edit_of_an_alert_goes_alone_even_when_posts_have_waited_to_be_joined(db, engine, clock):
    from bot.dispatcher import JOIN_AFTER_WAIT

    channel = GroupWaitChannel(group_wait=JOIN_AFTER_WAIT + 0.1)
    dispatcher = Dispatcher(db.sessions, {"telegram": channel}, clock, staff_chat_id=-100)
    with db.sessions.begin() as session:
        queue_to_staff(session, text="Ny fråga K-AAAA\n✓ Tas av Sara.", now=clock.now(), replaces="55")
        queue_to_staff(session, text="Ny fråga K-BBBB", now=clock.now())
        queue_to_staff(session, text="Anteckningen är sparad på K-CCCC.", now=clock.now(), answers="77")
    await dispatcher.deliver_due(0)
    await dispatcher.deliver_due(0)
    edit, *rest = [message for message in channel.sent if message.address == "-100"]
    assert (edit.text, edit.replaces, edit.options) == ("Ny fråga K-AAAA\n✓ Tas av Sara.", "55", ())
    assert [message.replaces for message in rest] == [None] * len(rest) and "K-BBBB" in rest[0].text


async def test_the_answer_to_a_workers_command_goes_as_a_reply_to_it(db, engine, clock):
    channel = GroupWaitChannel(group_wait=0.0)
    dispatcher = Dispatcher(db.sessions, {"telegram": channel}, clock, staff_chat_id=-100)
    with db.sessions.begin() as session:
        queue_to_staff(session, text="Anteckningen är sparad på K-CCCC.", now=clock.now(), answers="77")
    await dispatcher.deliver_due(0)
    (post,) = [message for message in channel.sent if message.address == "-100"]
    assert post.answers == "77"
