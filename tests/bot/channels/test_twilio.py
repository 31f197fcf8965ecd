"""SMS and WhatsApp through Twilio: the adapter against the stand-in API, then the real `utvag run` end to end."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from twilio.request_validator import RequestValidator

from bot.channels.base import Accepted, InboundMessage, Outbound, PermanentSendError, TransientSendError
from bot.channels.pacing import WINDOW_SECONDS, FloodGuard, Pacer
from bot.channels.twilio import EMPTY_TWIML, TwilioChannel, parse_inbound, parse_status
from handlers.turn import Option
from storage.contacts import find_or_create_identity
from storage.models import Contact, OutboxItem
from tests.fakes.twilio_api import FakeTwilioAPI, new_sid
from tests.runner import UtvagProcess

PUBLIC = "https://utvag.example.se"
SMS_FROM, WA_FROM = "+46700000000", "whatsapp:+46700000001"
PERSON = "+46701234567"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TEMPLATE = "HX" + "1" * 32


@pytest.fixture
def api() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as fake:
        fake.callbacks_enabled = False  # unit tests post their own callbacks
        yield fake


class Accepting:
    """Stands in for the runtime's accept: records, and fails on demand."""

    def __init__(self) -> None:
        self.received: list[InboundMessage] = []
        self.seen: set[str] = set()
        self.fail = False

    async def __call__(self, inbound: InboundMessage) -> Accepted:
        if self.fail:
            raise RuntimeError("database is down")
        self.received.append(inbound)
        duplicate = inbound.provider_id in self.seen
        self.seen.add(inbound.provider_id)
        return Accepted(None if duplicate else len(self.received), "c1")


def make_channel(api: FakeTwilioAPI, db, **kwargs) -> TwilioChannel:
    options = {"sms_from": SMS_FROM, "whatsapp_from": WA_FROM, "now": lambda: NOW, **kwargs}
    return TwilioChannel(api.account_sid, api.auth_token, sessions=db.sessions, public_url=PUBLIC + "/", api_url=api.url, **options)


@pytest.fixture
def accepting() -> Accepting:
    return Accepting()


@pytest.fixture
async def channel(api, sqlite_db, accepting) -> TwilioChannel:
    channel = make_channel(api, sqlite_db, whatsapp_template_sid=TEMPLATE, whatsapp_template_variables={"1": "Utväg"})
    await channel.start(accepting)
    return channel


async def post(channel: TwilioChannel, path: str, params: dict[str, str], signature: str | None = None, query: str = "") -> httpx.Response:
    """POST a form to the channel's routes in-process, signed for the public URL unless told otherwise."""
    url = f"{PUBLIC}{path}" + (f"?{query}" if query else "")
    if signature is None:
        signature = RequestValidator(channel.validator.token.decode()).compute_signature(url, params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    transport = httpx.ASGITransport(app=Starlette(routes=channel.info.routes))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
        return await client.post(path + (f"?{query}" if query else ""), data=params, headers=headers)


def inbound_form(body: str = "hej", sender: str = PERSON, sid: str | None = None, **extra: str) -> dict[str, str]:
    sid = sid or new_sid()
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender, "To": SMS_FROM, "Body": body,
            "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01", "SmsStatus": "received", **extra}  # fmt: skip


def identity(db, channel: str, address: str, last_inbound_at: datetime | None) -> str:
    with db.sessions.begin() as session:
        found = find_or_create_identity(session, channel, address, NOW - timedelta(days=30))
        found.last_inbound_at = last_inbound_at
        return found.contact_id


def outbox_row(db, sid: str) -> int:
    with db.sessions.begin() as session:
        item = OutboxItem(channel="sms", lane=0, target="contact", status="sent", attempts=1, next_attempt_at=NOW,
                          created_at=NOW, provider_message_id=sid)  # fmt: skip
        session.add(item)
        session.flush()
        return item.id


def delivery_status(db, item_id: int) -> str | None:
    with db.sessions() as session:
        return session.get(OutboxItem, item_id).delivery_status


# -- parsing ---------------------------------------------------------------------------------------------


def test_parse_inbound_sms_whatsapp_and_media():
    sms = parse_inbound(inbound_form("Hej!", sid="SM1"))
    assert (sms.channel, sms.provider_id, sms.address, sms.content.kind, sms.content.text) == ("sms", "SM1", PERSON, "text", "Hej!")
    wa = parse_inbound(inbound_form("hi", sender=f"whatsapp:{PERSON}"))
    assert (wa.channel, wa.address) == ("whatsapp", PERSON)
    media = parse_inbound(inbound_form("", NumMedia="1", MediaContentType0="image/jpeg"))
    assert (media.content.kind, media.content.media) == ("media", "mms")
    captioned = parse_inbound(inbound_form("titta", NumMedia="1"))
    assert (captioned.content.kind, captioned.content.text) == ("text", "titta")
    assert parse_inbound({"From": PERSON, "Body": "x"}) is None


def test_parse_status():
    assert parse_status({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}) == ("SM1", "undelivered", "30003")
    assert parse_status({"MessageSid": "SM1", "MessageStatus": "delivered"}) == ("SM1", "delivered", None)
    assert parse_status({"MessageSid": "SM1", "MessageStatus": "bogus"}) is None


# -- the webhook -----------------------------------------------------------------------------------------


async def test_a_signed_message_is_stored_then_answered_with_empty_twiml(channel, accepting):
    response = await post(channel, "/twilio/sms", inbound_form("hej", sid="SMaaa"))
    assert response.status_code == 200 and response.text == EMPTY_TWIML
    assert response.headers["content-type"].startswith("text/xml")
    (stored,) = accepting.received
    assert (stored.channel, stored.provider_id, stored.address, stored.content.text) == ("sms", "SMaaa", PERSON, "hej")


async def test_a_forged_or_missing_signature_is_refused_and_nothing_stored(channel, accepting):
    assert (await post(channel, "/twilio/sms", inbound_form(), signature="Zm9yZ2VkIHNpZ25hdHVyZQ==")).status_code == 403
    assert (await post(channel, "/twilio/sms", inbound_form(), signature="")).status_code == 403
    assert (await post(channel, "/twilio/status", {"MessageSid": "SM1", "MessageStatus": "failed"}, signature="")).status_code == 403
    assert accepting.received == []


async def test_the_signature_covers_the_public_url_and_the_query(channel, accepting):
    form = inbound_form()
    local = RequestValidator(channel.validator.token.decode()).compute_signature("http://127.0.0.1:8080/twilio/sms", form)
    assert (await post(channel, "/twilio/sms", form, signature=local)).status_code == 403  # signed for the wrong URL
    assert (await post(channel, "/twilio/sms", inbound_form(), query="a=1")).status_code == 200
    tampered = inbound_form()
    signature = RequestValidator(channel.validator.token.decode()).compute_signature(f"{PUBLIC}/twilio/sms", tampered)
    tampered["Body"] = "something else"
    assert (await post(channel, "/twilio/sms", tampered, signature=signature)).status_code == 403
    assert len(accepting.received) == 1


async def test_a_storage_failure_answers_500_so_twilio_retries(channel, accepting):
    accepting.fail = True
    assert (await post(channel, "/twilio/sms", inbound_form())).status_code == 500


async def test_a_short_code_sender_is_answered_but_not_stored(channel, accepting):
    assert (await post(channel, "/twilio/sms", inbound_form(sender="Telia"))).status_code == 200
    assert accepting.received == []


async def test_a_flood_is_stored_in_full_and_logged_once_without_the_number(channel, accepting, caplog):
    caplog.set_level(logging.DEBUG)
    for n in range(15):
        assert (await post(channel, "/twilio/sms", inbound_form(f"spam {n}"))).status_code == 200
    assert len(accepting.received) == 15
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("security: message flood")]
    assert len(warnings) == 1
    assert channel.flooding(PERSON) and channel.flooding(f"whatsapp:{PERSON}") and not channel.flooding("+46709999999")
    assert not any("701234567" in r.getMessage() or "spam" in r.getMessage() for r in caplog.records)


def test_the_flood_guard_resets_after_a_quiet_minute():
    now = [0.0]
    guard = FloodGuard(limit=10, per_seconds=10, quiet_seconds=60, clock=lambda: now[0])
    assert [guard.hit("a") for _ in range(10)] == [None] * 10
    assert guard.hit("a") == (11, 0.0) and guard.flooding("a")
    now[0] = 5.0
    assert guard.hit("a") is None  # refilled five, still the same episode: no second notice
    now[0] = 40.0
    assert guard.flooding("a")
    now[0] = 100.0
    assert not guard.flooding("a")
    assert [guard.hit("a") for _ in range(10)] == [None] * 10
    assert guard.hit("a") is not None  # a new episode after the quiet minute


# -- status callbacks ------------------------------------------------------------------------------------


async def test_statuses_move_forward_only_and_terminal_states_stay(channel, sqlite_db):
    sid = new_sid()
    item = outbox_row(sqlite_db, sid)
    for status in ("sent", "queued", "delivered", "sent", "undelivered", "read"):
        response = await post(channel, "/twilio/status", {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1"})
        assert response.status_code in (200, 204)
        if status == "sent":
            assert delivery_status(sqlite_db, item) in ("sent", "delivered")
    assert delivery_status(sqlite_db, item) == "delivered"


async def test_a_failure_reaches_the_undelivered_callback_once(api, sqlite_db, accepting):
    called: list[int] = []
    channel = make_channel(api, sqlite_db, on_undelivered=called.append)
    await channel.start(accepting)
    sid = new_sid()
    item = outbox_row(sqlite_db, sid)
    for _ in range(3):  # Twilio may repeat itself
        await post(channel, "/twilio/status", {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    assert called == [item]
    with sqlite_db.sessions() as session:
        row = session.get(OutboxItem, item)
        assert (row.delivery_status, row.error) == ("undelivered", "undelivered (Twilio error 30003)")


async def test_a_status_for_a_sid_not_yet_recorded_waits_for_it(channel, sqlite_db):
    channel.status_wait = (20, 0.02)
    sid = new_sid()
    task = asyncio.create_task(post(channel, "/twilio/status", {"MessageSid": sid, "MessageStatus": "delivered"}))
    await asyncio.sleep(0.1)
    item = await asyncio.to_thread(outbox_row, sqlite_db, sid)
    assert (await task).status_code == 204
    assert delivery_status(sqlite_db, item) == "delivered"


# -- sending ---------------------------------------------------------------------------------------------


async def test_an_sms_goes_out_rendered_with_a_status_callback(channel, api):
    sid = await channel.send(Outbound("sms", PERSON, "Välj språk – “nu”…", (Option("lang:sv", "Svenska"), Option("lang:en", "English"))))
    (sent,) = api.sent(PERSON)
    assert sent["sid"] == sid and sent["from"] == SMS_FROM and sent["to"] == PERSON
    assert sent["body"] == 'Välj språk - "nu"...\n1 Svenska\n2 English'
    assert sent["status_callback"] == f"{PUBLIC}/twilio/status"


async def test_whatsapp_inside_the_window_is_free_text(channel, api, sqlite_db):
    identity(sqlite_db, "whatsapp", PERSON, NOW - timedelta(hours=2))
    await channel.send(Outbound("whatsapp", PERSON, "Hej"))
    (sent,) = api.sent(PERSON)
    assert sent["to"] == f"whatsapp:{PERSON}" and sent["from"] == WA_FROM and sent["body"] == "Hej" and sent["content_sid"] is None


async def test_whatsapp_outside_the_window_sends_the_template_and_no_body(channel, api, sqlite_db):
    identity(sqlite_db, "whatsapp", PERSON, NOW - timedelta(hours=30))
    await channel.send(Outbound("whatsapp", PERSON, "Hur mår du?", lane=1))
    (sent,) = api.sent(PERSON)
    assert sent["content_sid"] == TEMPLATE and json.loads(sent["content_variables"]) == {"1": "Utväg"}
    assert "Body" not in sent["params"]


async def test_whatsapp_outside_the_window_without_a_template_is_permanent(api, sqlite_db, accepting):
    channel = make_channel(api, sqlite_db)
    identity(sqlite_db, "whatsapp", PERSON, None)
    with pytest.raises(PermanentSendError, match="no template configured"):
        await channel.send(Outbound("whatsapp", PERSON, "Hej"))
    assert api.calls() == []


async def test_63016_is_permanent_and_never_retried_as_free_text(channel, api, sqlite_db):
    identity(sqlite_db, "whatsapp", PERSON, NOW - timedelta(hours=1))
    api.fail_next(status=400, code=63016)
    with pytest.raises(PermanentSendError, match="outside the 24-hour window"):
        await channel.send(Outbound("whatsapp", PERSON, "Hej"))
    assert len(api.calls()) == 1


async def test_21610_marks_the_contact_stopped(channel, api, sqlite_db):
    contact_id = identity(sqlite_db, "sms", PERSON, NOW)
    api.fail_next(status=400, code=21610)
    with pytest.raises(PermanentSendError, match="unsubscribed"):
        await channel.send(Outbound("sms", PERSON, "Hej"))
    with sqlite_db.sessions() as session:
        assert session.get(Contact, contact_id).stopped_at == NOW


@pytest.mark.parametrize(
    ("status", "code", "retry_after", "kind", "expected_retry_after"),
    [(429, 20429, 3, TransientSendError, 3.0), (429, 20429, None, TransientSendError, None), (400, 20429, None, TransientSendError, None),
     (500, 20500, None, TransientSendError, None), (503, 20503, None, TransientSendError, None),
     (400, 21617, None, PermanentSendError, None), (400, 21211, None, PermanentSendError, None),
     (401, 20003, None, TransientSendError, None)],
)  # fmt: skip
async def test_failures_map_to_transient_or_permanent(channel, api, status, code, retry_after, kind, expected_retry_after):
    api.fail_next(status=status, code=code, retry_after=retry_after)
    with pytest.raises(kind) as error:
        await channel.send(Outbound("sms", PERSON, "Hej"))
    if kind is TransientSendError:
        assert error.value.retry_after == expected_retry_after
    assert PERSON not in str(error.value)


@pytest.mark.parametrize("code", [21611, 30001])
async def test_a_queue_overflow_is_transient_and_halves_the_bulk_lane(channel, api, code):
    api.fail_next(status=400, code=code)
    with pytest.raises(TransientSendError):
        await channel.send(Outbound("sms", PERSON, "Hej", lane=1))
    assert channel.pacer.bulk_rate(SMS_FROM) == 0.5 and channel.pacer.rate == 1.0  # lane 0 keeps the full rate


async def test_a_network_failure_is_transient(api, sqlite_db):
    channel = make_channel(api, sqlite_db)
    api.stop()
    with pytest.raises(TransientSendError, match="network"):
        await channel.send(Outbound("sms", PERSON, "Hej"))


async def test_nothing_personal_is_logged_while_sending(channel, api, caplog):
    caplog.set_level(logging.DEBUG)
    channel.pacer = Pacer(segments_per_second=100)  # two sends in a row; no need to wait a second
    await channel.send(Outbound("sms", PERSON, "hemlig text"))
    api.fail_next(status=400, code=21211)
    with pytest.raises(PermanentSendError):
        await channel.send(Outbound("sms", PERSON, "hemlig text"))
    for record in caplog.records:
        assert "701234567" not in record.getMessage() and "hemlig" not in record.getMessage()


# -- pacing ----------------------------------------------------------------------------------------------


class ManualClock:
    """A clock only the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    for _ in range(50):  # enough loop turns for woken waiters to look again and for each admitted one to wake the next
        await asyncio.sleep(0)


async def drive(pacer: Pacer, clock: ManualClock, tasks: list[asyncio.Task], head: Callable[[], tuple[int, int]]) -> None:
    """Move the clock to each moment the head waiter (`head()`: its segments and lane) may go, until all tasks are done."""
    for _ in range(100 * len(tasks)):
        await settle()
        if all(task.done() for task in tasks):
            await asyncio.gather(*tasks)
            return
        clock.now += pacer.time_until(SMS_FROM, *head())
        pacer._notify(pacer._state(SMS_FROM))  # the waiters' own timeouts run on the real clock: wake them now
    raise AssertionError("the pacer stalled")


async def paced(pacer: Pacer, clock: ManualClock, sizes: list[int], lane: int = 1) -> list[tuple[float, int]]:
    """Queue messages of these sizes (segments) all at once; returns (admitted at, segments) in order."""
    admitted: list[tuple[float, int]] = []

    async def send(units: int) -> None:
        await pacer.acquire(SMS_FROM, units, lane)
        admitted.append((clock.now, units))

    tasks = [asyncio.create_task(send(units)) for units in sizes]
    await drive(pacer, clock, tasks, lambda: (sizes[len(admitted)], lane))  # one lane: they go in order
    return admitted


def most_in_one_second(admitted: list[tuple[float, int]], delays: list[float]) -> int:
    """The most segments in any one-second window as the stand-in counts them: at arrival, admission + delay."""
    arrivals = [(at + delay, units) for (at, units), delay in zip(admitted, delays, strict=True)]
    return max(sum(units for at, units in arrivals if end - 1.0 < at <= end) for end, _ in arrivals)


async def test_the_window_counts_segments_per_sender_and_the_bulk_slowdown_ends():
    clock = ManualClock()
    pacer = Pacer(segments_per_second=3.0, burst=1.0, clock=clock)  # burst is still accepted, and ignored
    await pacer.acquire("A", 2, 0)
    clock.now = 0.5
    await pacer.acquire("A", 1, 1)  # 3 of 3 in the window: a burst of 1 would have held this back
    assert pacer.time_until("A", 1, 0) == pytest.approx(WINDOW_SECONDS - 0.5)  # when the first two segments leave
    assert pacer.time_until("A", 2, 0) == pytest.approx(WINDOW_SECONDS - 0.5)
    assert pacer.time_until("A", 3, 0) == pytest.approx(WINDOW_SECONDS)  # all three must leave
    assert pacer.time_until("B", 3, 0) == 0  # per sender
    clock.now = WINDOW_SECONDS
    assert pacer.time_until("A", 2, 0) == 0
    pacer.slow_bulk("A", seconds=60)
    assert pacer.bulk_rate("A") == 1.5 and pacer.rate == 3.0
    clock.now = 64.0
    assert pacer.bulk_rate("A") == 3.0  # the slowdown is over


async def test_no_second_holds_more_than_the_limit_and_the_rate_stays_near_it():
    clock, limit = ManualClock(), 10
    pacer = Pacer(segments_per_second=limit, clock=clock)
    admitted = await paced(pacer, clock, [2, 1, 1] * 70)  # as in bench/ 4b: every third message two segments
    assert most_in_one_second(admitted, [0.0] * len(admitted)) == limit
    # Requests reach Twilio some milliseconds after they are admitted, each by its own delay: still no 429.
    jitter = random.Random(4)
    delays = [jitter.uniform(0.0, 0.03) for _ in admitted]
    assert most_in_one_second(admitted, delays) <= limit
    # The rate once the first (full) window is past, over 20 s: at least 95 % of the limit.
    start = next(at for at, _ in admitted if at >= 2.0)
    end = next(at for at, _ in admitted if at >= start + 20.0)
    rate = sum(units for at, units in admitted if start <= at < end) / (end - start)
    assert 0.95 * limit <= rate <= limit


async def test_a_message_longer_than_the_limit_still_goes_and_pays_for_its_segments():
    clock = ManualClock()
    pacer = Pacer(segments_per_second=1.0, clock=clock)
    await asyncio.wait_for(pacer.acquire(SMS_FROM, 3, 0), 1.0)  # into the empty window at once
    assert pacer.time_until(SMS_FROM, 1, 0) == pytest.approx(3 * WINDOW_SECONDS)  # three windows' worth at 1/s
    admitted = await paced(pacer, clock, [1, 3, 3, 1, 1], lane=0)
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise([(0.0, 3), *admitted])]
    assert gaps == pytest.approx([3 * WINDOW_SECONDS, WINDOW_SECONDS, 3 * WINDOW_SECONDS, 3 * WINDOW_SECONDS, WINDOW_SECONDS])
    assert (3 + sum(units for _, units in admitted[:-1])) / admitted[-1][0] <= 1.0  # the long-run rate holds


async def test_a_send_counts_from_when_its_request_leaves_not_from_when_it_was_let_go():
    clock = ManualClock()
    pacer = Pacer(segments_per_second=2.0, clock=clock)
    first = await pacer.acquire(SMS_FROM, 2, 1)  # the window is full
    clock.now = 0.3  # a cold connection, a slow claim: the request only leaves now
    pacer.restamp(first)
    clock.now = WINDOW_SECONDS
    assert pacer.time_until(SMS_FROM, 1, 1) == pytest.approx(0.3)  # a second after it left, not after it was let go


async def test_a_send_whose_request_was_slow_to_arrive_counts_until_a_second_after_its_answer():
    clock = ManualClock()
    pacer = Pacer(segments_per_second=2.0, clock=clock)
    first = await pacer.acquire(SMS_FROM, 2, 1)
    pacer.restamp(first)
    clock.now = 0.5  # a cold connection: Twilio has it somewhere before now, perhaps just now
    pacer.answered(first)
    clock.now = WINDOW_SECONDS
    assert pacer.time_until(SMS_FROM, 1, 1) == pytest.approx(0.5 + 1.0 - WINDOW_SECONDS)  # a second after the answer


async def test_lane_0_overtakes_waiting_bulk_messages():
    clock = ManualClock()
    pacer = Pacer(segments_per_second=1.0, clock=clock)
    order: list[str] = []

    async def send(name: str, lane: int) -> None:
        await pacer.acquire(SMS_FROM, 1, lane)
        order.append(name)

    bulk = [asyncio.create_task(send(f"bulk{n}", 1)) for n in range(4)]
    await settle()  # bulk0 goes at once, the others queue in order
    urgent = asyncio.create_task(send("reply", 0))
    await drive(pacer, clock, [*bulk, urgent], lambda: (1, 0))
    assert order == ["bulk0", "reply", "bulk1", "bulk2", "bulk3"]


async def test_the_answer_to_someone_in_danger_overtakes_waiting_replies():
    clock = ManualClock()
    pacer = Pacer(segments_per_second=1.0, clock=clock)
    order: list[str] = []

    async def send(name: str, urgent: bool) -> None:
        await pacer.acquire(SMS_FROM, 1, 0, urgent)
        order.append(name)

    replies = [asyncio.create_task(send(f"reply{n}", False)) for n in range(3)]
    await settle()  # reply0 goes at once, the others queue in order
    danger = asyncio.create_task(send("danger", True))
    await drive(pacer, clock, [*replies, danger], lambda: (1, 0))
    assert order == ["reply0", "danger", "reply1", "reply2"]


async def test_a_slowed_bulk_lane_keeps_lane_0_at_full_speed():
    pacer = Pacer(segments_per_second=40.0)
    pacer.slow_bulk(SMS_FROM)
    started = time.monotonic()
    for _ in range(4):
        await pacer.acquire(SMS_FROM, 1, 1)
    bulk_time = time.monotonic() - started
    started = time.monotonic()
    for _ in range(4):
        await pacer.acquire(SMS_FROM, 1, 0)
    assert bulk_time >= 3 / 20 * 0.9  # 20 segments/s, half of 40
    assert time.monotonic() - started < bulk_time


async def test_a_waiter_gives_up_instead_of_holding_the_row_too_long():
    from bot.channels.pacing import SenderBusy

    pacer = Pacer(segments_per_second=1.0, max_wait=0.05)
    await pacer.acquire(SMS_FROM, 1, 0)
    with pytest.raises(SenderBusy):
        await pacer.acquire(SMS_FROM, 1, 1)


# -- end to end: the real `utvag run` --------------------------------------------------------------------


def env_for(api: FakeTwilioAPI, keys, tmp_path) -> dict[str, str]:
    return {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/utvag.db", "UTVAG_TWILIO_ACCOUNT_SID": api.account_sid,
            "UTVAG_TWILIO_AUTH_TOKEN": api.auth_token, "UTVAG_TWILIO_FROM": SMS_FROM, "UTVAG_TWILIO_API_URL": api.url,
            "UTVAG_PUBLIC_URL": PUBLIC}  # fmt: skip


@pytest.fixture
def live_api() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as fake:
        yield fake


@pytest.fixture
def utvag(live_api, keys, tmp_path) -> Iterator[UtvagProcess]:
    process = UtvagProcess(tmp_path, env_for(live_api, keys, tmp_path))
    live_api.proxy(PUBLIC, process.url)  # the fake plays the TLS proxy for status callbacks too
    with process:
        yield process


def query(tmp_path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "utvag.db") as connection:
        return connection.execute(sql).fetchall()


def say(api: FakeTwilioAPI, process: UtvagProcess, body: str, **kwargs) -> httpx.Response:
    return api.post_inbound(f"{process.url}/twilio/sms", from_=PERSON, to=SMS_FROM, body=body, public_url=PUBLIC, **kwargs)


@pytest.mark.e2e
def test_an_sms_is_greeted_and_delivery_is_tracked(live_api, utvag, tmp_path):
    response = say(live_api, utvag, "hej")
    assert response.status_code == 200 and response.text == EMPTY_TWIML
    (greeting,) = live_api.wait_for_sent(PERSON, 1)
    assert greeting["body"].startswith("Hej! Det här är Utväg") and greeting["body"].endswith("\n1 Svenska\n2 English")
    assert greeting["from"] == SMS_FROM and greeting["status_callback"] == f"{PUBLIC}/twilio/status"
    live_api.wait_for(lambda api: [c["status"] for c in api.callbacks()] == [204, 204, 204])
    assert query(tmp_path, "select delivery_status from outbox where target = 'contact'") == [("delivered",)]
    late = live_api.post_status(f"{utvag.url}/twilio/status", message_sid=greeting["sid"], status="sent", public_url=PUBLIC)
    assert late.status_code == 204
    assert query(tmp_path, "select delivery_status from outbox where target = 'contact'") == [("delivered",)]  # never backwards
    assert "701234567" not in utvag.logs() and "hej" not in utvag.logs().lower()


@pytest.mark.e2e
def test_forgeries_are_refused_and_repeats_stored_once(live_api, utvag, tmp_path):
    assert say(live_api, utvag, "hej", signature="forged").status_code == 403
    assert say(live_api, utvag, "hej", signature="").status_code == 403
    assert query(tmp_path, "select count(*) from messages") == [(0,)]
    sid = new_sid()
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: say(live_api, utvag, "hej", message_sid=sid), range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    live_api.wait_for_sent(PERSON, 1)
    time.sleep(0.5)  # a second reply, if any, would be out by now
    assert len(live_api.sent(PERSON)) == 1
    assert query(tmp_path, "select count(*) from messages where direction = 'in'") == [(1,)]


@pytest.mark.e2e
def test_a_429_is_backed_off_then_delivered_once(live_api, utvag, tmp_path):
    live_api.fail_next(status=429, code=20429, retry_after=1)
    say(live_api, utvag, "hej")
    live_api.wait_for_sent(PERSON, 1, timeout=20)
    assert [c["status"] for c in live_api.calls()] == [429, 201]
    time.sleep(0.3)
    assert len(live_api.sent(PERSON)) == 1
    assert query(tmp_path, "select status, attempts from outbox where target = 'contact'") == [("sent", 2)]


@pytest.mark.e2e
def test_an_unsubscribed_recipient_is_stopped_and_sent_nothing_more(live_api, utvag, tmp_path):
    live_api.fail_next(status=400, code=21610)
    say(live_api, utvag, "hej")
    live_api.wait_for(lambda api: len(api.calls()) == 1)
    deadline = time.monotonic() + 10
    while query(tmp_path, "select stopped_at from contacts") == [(None,)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert query(tmp_path, "select stopped_at is not null from contacts") == [(1,)]
    say(live_api, utvag, "1")
    deadline = time.monotonic() + 10
    while query(tmp_path, "select count(*) from outbox where status = 'cancelled'") == [(0,)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert query(tmp_path, "select count(*) from outbox where status = 'cancelled'") != [(0,)]
    assert live_api.sent(PERSON) == [] and len(live_api.calls()) == 1
    assert query(tmp_path, "select status from outbox order by id")[0] == ("failed",)
