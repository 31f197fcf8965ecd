"""Telegram's limits, kept by the channel before a send rather than learned from its 429s.

Sends are let go by `TelegramChannel._pace`; most of these tests run it on a virtual clock, where waiting moves time
on, and check the limits over the whole timeline of what it let go.
"""

import asyncio

from bot.channels import telegram
from bot.channels.telegram import TelegramChannel

STAFF = "-1001234"


class VirtualTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def channel(virtual: VirtualTime | None = None) -> TelegramChannel:
    made = TelegramChannel("123:abc", "http://127.0.0.1:9/bot")
    if virtual is not None:
        made._monotonic, made._sleep = virtual.monotonic, virtual.sleep
    return made


def most_in_any(window: float, times: list[float]) -> int:
    return max(sum(1 for other in times if start <= other < start + window) for start in times)


async def let_go(made: TelegramChannel, virtual: VirtualTime, chats: list[str], lane: int) -> list[float]:
    times = []
    for chat in chats:
        await made._pace(chat, lane)
        times.append(virtual.now)
    return times


async def test_bulk_goes_evenly_at_29_a_second_never_more_in_any_second():
    virtual = VirtualTime()
    times = await let_go(channel(virtual), virtual, [str(2000 + n) for n in range(300)], lane=1)
    assert most_in_any(1.0, times) <= telegram.BULK_PER_SECOND
    assert (len(times) - 1) / (times[-1] - times[0]) >= 0.95 * telegram.OVERALL_PER_SECOND


async def test_bulk_to_one_person_goes_once_a_second():
    virtual = VirtualTime()
    times = await let_go(channel(virtual), virtual, ["2001"] * 5, lane=1)
    assert [round(later - earlier, 3) for earlier, later in zip(times, times[1:], strict=False)] == [1.0] * 4


async def test_replies_in_a_conversation_are_not_spaced():
    virtual = VirtualTime()
    times = await let_go(channel(virtual), virtual, ["2001"] * 3, lane=0)
    assert times == [1000.0] * 3


async def test_the_staff_group_gets_at_most_20_posts_in_any_minute_and_one_a_second():
    virtual = VirtualTime()
    times = await let_go(channel(virtual), virtual, [STAFF] * 60, lane=0)
    assert most_in_any(60.0, times) <= 20
    assert most_in_any(1.0, times) == 1
    assert times[telegram.GROUP_BURST - 1] - times[0] <= (telegram.GROUP_BURST - 1) * telegram.GROUP_INTERVAL + 1e-6  # calm: quick


async def test_a_reply_waiting_for_room_is_let_go_before_any_more_bulk():
    made = channel()  # real time: bulk and the reply wait side by side
    order: list[str] = []

    async def bulk() -> None:
        for n in range(40):
            await made._pace(str(3000 + n), 1)
            order.append("bulk")

    draining = asyncio.create_task(bulk())
    while order.count("bulk") < 10:
        await asyncio.sleep(0.005)
    made._admitted.extend([made._monotonic()] for _ in range(telegram.OVERALL_PER_SECOND))  # the last second is full
    await made._pace("4000", 0)
    order.append("reply")
    draining.cancel()
    await asyncio.gather(draining, return_exceptions=True)
    assert order[-1] == "reply" and order.count("bulk") <= 11


async def test_when_the_second_is_full_a_staff_post_goes_before_waiting_replies():
    made = channel()  # real time: the waiters wait side by side
    order: list[str] = []
    made._admitted.extend([made._monotonic()] for _ in range(telegram.OVERALL_PER_SECOND))  # the last second is full

    async def send(chat: str, name: str) -> None:
        await made._pace(chat, 0)
        order.append(name)

    replies = [asyncio.create_task(send(str(5000 + n), "reply")) for n in range(5)]
    await asyncio.sleep(0.05)  # the replies are waiting for room
    await send(STAFF, "staff post")
    await asyncio.gather(*replies)
    assert order[0] == "staff post"


async def test_a_send_in_flight_counts_in_every_second_until_telegram_answers_it():
    from bot.channels.base import Outbound

    virtual = VirtualTime()
    made = channel(virtual)
    first = Outbound("telegram", "2001", "hej", lane=1)
    await made.pace(first)
    stamp = made._leaving(first)  # what send() does first
    virtual.now += 2.0  # a request stuck on its way: it may still arrive in any second from now
    await made._pace("2002", 1)  # (prunes the count)
    assert telegram.IN_FLIGHT in [entry[0] for entry in made._admitted]
    made._answered(first, stamp)
    assert made._admitted[0] == [virtual.now]
    second = Outbound("telegram", "2003", "hej", lane=1)
    await made.pace(second)
    made.unpace(second)  # its claim failed: it never goes
    assert len(made._admitted) == 2


async def test_when_the_second_is_full_the_answer_to_danger_goes_before_other_replies():
    made = channel()
    order: list[str] = []
    made._admitted.extend([made._monotonic()] for _ in range(telegram.OVERALL_PER_SECOND))

    async def send(chat: str, name: str, urgent: bool) -> None:
        await made._pace(chat, 0, urgent)
        order.append(name)

    replies = [asyncio.create_task(send(str(6000 + n), "reply", False)) for n in range(5)]
    await asyncio.sleep(0.05)
    await send("6100", "danger", True)
    await asyncio.gather(*replies)
    assert order[0] == "danger"


async def test_the_next_post_to_a_group_waits_for_the_last_one_and_a_second_after_its_answer():
    from bot.channels.base import Outbound

    virtual = VirtualTime()
    made = channel(virtual)
    first = Outbound("telegram", STAFF, "Ny fråga K-AAAA")
    await made.pace(first)
    stamp = made._leaving(first)
    virtual.now += 1.5  # a slow answer; meanwhile no post may go
    made._answered(first, stamp)
    answered = virtual.now
    await made.pace(Outbound("telegram", STAFF, "Ny fråga K-BBBB"))
    assert virtual.now - answered >= 1.0


async def test_a_reply_right_after_bulk_to_the_same_person_waits_its_second_and_bulk_after_a_reply_too():
    virtual = VirtualTime()
    made = channel(virtual)
    await made._pace("2001", 1)  # the outreach to them
    bulk_at = virtual.now
    await made._pace("2001", 0)  # they answer at once and are answered
    assert virtual.now - bulk_at >= 1.0
    replied_at = virtual.now
    await made._pace("2001", 1)
    assert virtual.now - replied_at >= 1.0


async def test_a_send_counts_until_a_second_after_telegram_answered_it():
    from bot.channels.base import Outbound

    virtual = VirtualTime()
    made = channel(virtual)
    message = Outbound("telegram", "2001", "hej")
    await made.pace(message)
    stamp = made._leaving(message)
    virtual.now += 0.2  # a slow answer: the request may have reached Telegram just now
    made._answered(message, stamp)
    assert made._admitted == [[virtual.now]] and made._chat_replied["2001"] == virtual.now + 1.0


async def test_a_joined_staff_post_is_paced_before_its_text_is_known_and_still_counted_when_sent():
    from bot.channels.base import Outbound

    virtual = VirtualTime()
    made = channel(virtual)
    await made.pace(Outbound("telegram", STAFF, ""))  # the group's turn, asked for before the posts are claimed
    assert made._leaving(Outbound("telegram", STAFF, "3 inlägg kom på kort tid …")) is not None
