"""Telegram through python-telegram-bot: long polling or our own webhook route, inline keyboards.

Bot API reference: https://core.telegram.org/bots/api#getupdates and #setwebhook.
Durability: an update is confirmed to Telegram (the next getUpdates offset, or a 200 on the
webhook) only after it is committed, so a crash can repeat an update but never lose one; the
engine's unique (channel, provider id) drops the repeat.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.channels.base import (
    Accept,
    ChannelInfo,
    InboundMessage,
    Outbound,
    PermanentSendError,
    TransientSendError,
    UncertainSendError,
)
from handlers.desk import StaffAction
from handlers.turn import Inbound
from storage.db import describe_error

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
MEDIA_KINDS = ("sticker", "photo", "voice", "video", "video_note", "animation", "audio", "document", "location")
SOURCE_TAG = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# Telegram's limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): about 30
# messages a second in all, about one a second to one chat, 20 a minute to one group.
OVERALL_PER_SECOND = 30
BULK_PER_SECOND = 29  # bulk leaves one a second free, and stops altogether while a reply waits for room
IN_FLIGHT = float("inf")  # the time a send in flight counts from: always, until Telegram has answered it
IN_FLIGHT_POLL = 0.01  # seconds between looks while what holds us back is in flight
BULK_CATCH_UP = 0.1  # seconds of lateness bulk may make up (a few sends closer together; the second still holds)
BULK_INTERVAL_PER_CHAT = 1.0  # bulk to one private chat; replies in a conversation are not spaced
GROUP_INTERVAL = 1.1  # a second, and room for requests that take different times to get there
# A group's posts: a token bucket of GROUP_BURST posts refilled at GROUP_PER_MINUTE. It can never put more than
# GROUP_BURST + GROUP_PER_MINUTE = 20 posts into any minute, whatever the traffic: quick answers to staff when the
# group is calm, one post every 3.75 s when it is busy (the dispatcher then joins what is due into one post).
GROUP_BURST = 4
GROUP_PER_MINUTE = 16


class TelegramChannel:
    name = "telegram"

    def __init__(
        self,
        token: str,
        api_url: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        poll_timeout: int = 25,
        staff_chat_id: int | None = None,
    ) -> None:
        self.bot = ExtBot(
            token,
            base_url=api_url,
            # No AIORateLimiter: pacing is ours (`_pace`), done before the outbox row is claimed. A limiter inside
            # send() waits while the row is `sending`, so a crash then turns a message not yet sent into one
            # never sent; and it let 20 group posts out at once, which Telegram's one-a-second-per-chat refuses.
            request=HTTPXRequest(connection_pool_size=32),
        )
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.poll_timeout = poll_timeout
        self._accept: Accept | None = None
        self.staff_chat_id = staff_chat_id
        self.on_staff_action: Callable[[str, StaffAction], Awaitable[object]] | None = None
        self.is_staff: Callable[[str], Awaitable[bool]] | None = None  # a registered worker's Telegram user id
        self.on_poll: Callable[[], None] = lambda: None  # each getUpdates that answered: Telegram works
        self._poller: asyncio.Task[None] | None = None
        self._offset: int | None = None  # the next getUpdates offset: every update before it is stored
        self._receiving = False  # storing a fetched batch: let it finish (cutting anything else loses nothing)
        self._stopping = False
        # When each send of the last second went: a list per send, stamped when it is let go and again when its
        # request leaves (a database claim lies between the two), so bunched requests are counted as they reach Telegram.
        self._admitted: list[list[float]] = []
        # Between pace() and send(), by chat and lane: the dispatcher sends one message at a time per address and lane,
        # and a joined staff post is paced before its text is known, so it is not the same object that is sent.
        self._stamps: dict[tuple[str, int], list[float]] = {}
        self._bulk_next = float("-inf")  # the next bulk send's moment on an even grid
        self._chat_free: dict[str, float] = {}  # earliest next send to a group, or to a person after bulk to them
        self._chat_replied: dict[str, float] = {}  # earliest next bulk to a person after a reply to them
        self._group_tokens: dict[str, tuple[float, float]] = {}  # chat -> (tokens, when counted)
        self._waiting = [0, 0, 0]  # sends waiting for room in the overall limit: staff-group posts, replies, bulk
        self._monotonic, self._sleep = time.monotonic, asyncio.sleep  # tests put a virtual clock here
        path = urlparse(webhook_url).path if webhook_url else ""
        self.info = ChannelInfo(routes=[Route(path or "/telegram/webhook", self._webhook, methods=["POST"])] if webhook_url else [])

    async def start(self, accept: Accept) -> None:
        self._accept = accept
        await self.bot.initialize()
        if self.webhook_url:
            await self.bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret, allowed_updates=ALLOWED_UPDATES)
            log.info("telegram: webhook mode")
        else:
            await self.bot.delete_webhook()
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
            log.info("telegram: polling mode")

    async def stop_receiving(self) -> None:
        """Take no new updates (the process is stopping): the batch being stored is finished, the wait for the next
        one is cut, and what was stored is confirmed; what was not stays with Telegram, to be fetched after a restart."""
        if self._poller is None:
            return
        self._stopping = True
        if not self._receiving:
            self._poller.cancel()
        await asyncio.gather(self._poller, return_exceptions=True)
        self._poller = None
        if self._offset is not None:
            try:  # getUpdates with an offset confirms everything before it; what it returns stays unconfirmed
                await self.bot.get_updates(offset=self._offset, timeout=0, limit=1, allowed_updates=ALLOWED_UPDATES)
            except TelegramError as exc:
                log.info("telegram: could not confirm the last updates before stopping (%s); they come again and are "
                         "recognised as repeats", type(exc).__name__)  # fmt: skip

    async def stop(self) -> None:
        if self._poller:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        await self.bot.shutdown()

    async def _poll(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                updates = await self.bot.get_updates(offset=self._offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES)
                self.on_poll()
                self._receiving = True
                try:
                    for update in updates:
                        await self._receive(update)
                finally:
                    self._receiving = False
                if updates:
                    # Only now may Telegram forget them: the next call confirms with this offset.
                    self._offset = updates[-1].update_id + 1
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2**failures)
                log.warning("telegram: polling failed (%s); retrying in %.1f s", describe_error(exc), delay)
                await asyncio.sleep(delay)

    async def _webhook(self, request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(given.encode(), (self.webhook_secret or "").encode()):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        try:
            update = Update.de_json(await request.json(), self.bot)
        except Exception:
            return JSONResponse({"error": "malformed update"}, status_code=400)
        # A failure here answers 500, so Telegram delivers the update again later.
        await self._receive(update)
        return Response(status_code=200)

    async def _receive(self, update: Update) -> None:
        assert self._accept is not None
        staff = parse_staff_update(update, self.staff_chat_id)
        if staff is None and self.is_staff is not None:
            staff = await self._private_staff_message(update)
        if staff is not None:
            if self.on_staff_action is not None:
                await self.on_staff_action(str(update.update_id), staff)
        else:
            inbound = parse_update(update)
            if inbound is not None:
                await self._accept(inbound)
        if update.callback_query is not None:
            try:
                await update.callback_query.answer()
            except TelegramError:
                pass  # the spinner on the button stops by itself; the choice is already stored

    async def _private_staff_message(self, update: Update) -> StaffAction | None:
        """A worker writing to the bot in private (to open the chat numbers come in): answered as staff, never taken
        for a person starting a conversation."""
        message = update.message
        if message is None or message.chat.type != "private" or message.from_user is None or self.is_staff is None:
            return None
        if not await self.is_staff(str(message.from_user.id)):
            return None
        return StaffAction(telegram_id=str(message.from_user.id), text=message.text or "", private=True)

    async def send(self, message: Outbound) -> str | None:
        stamp = self._leaving(message)
        try:
            if message.replaces and await self._edit(message):
                return message.replaces
            # A confirmation of one worker's command is a reply to that command, addressed to them in the thread.
            # https://core.telegram.org/bots/api#replyparameters: sent anyway if the command was deleted meanwhile.
            answers = ReplyParameters(int(message.answers), allow_sending_without_reply=True) if message.answers else None
            sent = await self.bot.send_message(chat_id=int(message.address), text=message.text, reply_markup=_markup(message),
                                               reply_parameters=answers)  # fmt: skip
        except RetryAfter as exc:
            raise TransientSendError("rate limited", retry_after=_seconds(exc.retry_after), rate_limited=True) from exc
        except Forbidden as exc:
            raise PermanentSendError("blocked by the person") from exc
        except BadRequest as exc:
            raise PermanentSendError(f"rejected by Telegram: {exc.message[:80]}") from exc
        except InvalidToken as exc:
            raise TransientSendError("Telegram refused the token") from exc
        except TimedOut as exc:
            raise UncertainSendError("timed out waiting for Telegram") from exc
        except NetworkError as exc:
            raise TransientSendError(f"network: {type(exc).__name__}") from exc
        finally:
            self._answered(message, stamp)
        return str(sent.message_id)

    async def _edit(self, message: Outbound) -> bool:
        """The pressed message's text and buttons change in place ("✓ Boende"), so the chat does not fill with copies.
        False when Telegram will not edit it (too old, deleted, unchanged): then it is sent as a new message.
        https://core.telegram.org/bots/api#editmessagetext"""
        try:
            await self.bot.edit_message_text(chat_id=int(message.address), message_id=int(message.replaces or 0), text=message.text,
                                             reply_markup=_markup(message))  # fmt: skip
        except BadRequest:
            return False
        return True

    async def pace(self, message: Outbound) -> None:
        self._stamps[(message.address, message.lane)] = await self._pace(message.address, message.lane, message.urgent)

    def _leaving(self, message: Outbound) -> list[float] | None:
        """Its request leaves now. Until Telegram answers, nobody knows when it gets there (a busy interpreter, a cold
        connection), so it counts in every second and holds its chat until the answer (`_answered`)."""
        stamp = self._stamps.pop((message.address, message.lane), None)
        if stamp is not None:
            stamp[0] = IN_FLIGHT
            self._space(message, IN_FLIGHT)
        return stamp

    def _answered(self, message: Outbound, stamp: list[float] | None) -> None:
        """Telegram has answered, so the request reached it before now: it counts for the second after now, and the
        next send to the same chat waits that second."""
        if stamp is not None:
            now = self._monotonic()
            stamp[0] = now
            self._space(message, now + 1.0)

    def _space(self, message: Outbound, until: float) -> None:
        """No next send to the same chat before `until`: in a group no post at all, to a person no bulk after anything
        and no reply after bulk (replies to each other go at once: a short burst Telegram allows in a chat)."""
        chat, spaced = message.address, self._chat_free
        if not chat.startswith("-") and message.lane == 0:
            spaced = self._chat_replied  # holds back bulk only
        held = spaced.get(chat, 0.0)
        spaced[chat] = until if held == IN_FLIGHT else max(held, until)

    def unpace(self, message: Outbound) -> None:
        """The send we were let go for will not happen: give its place in the last second back."""
        stamp = self._stamps.pop((message.address, message.lane), None)
        if stamp is not None and stamp in self._admitted:
            self._admitted.remove(stamp)

    async def _pace(self, chat: str, lane: int, urgent: bool = False) -> list[float]:
        """Wait until a send to `chat` in `lane` stays within Telegram's limits, and count it.

        Sends are counted when they are let go, over a sliding second. Bulk is spread evenly (one every 1/29 s)
        so the requests never bunch up at Telegram's end, and keeps one place a second free. When the second is
        full, who goes first is fixed: the answer to someone in danger and staff-group posts (one post can carry a
        minute's alerts), then other replies, then bulk; each waits only for those before it and for the oldest send
        of the last second to age out."""
        group = chat.startswith("-")
        rank = 0 if group or urgent else 1 if lane == 0 else 2
        while True:
            now = self._monotonic()
            self._admitted = [stamp for stamp in self._admitted if now - stamp[0] < 1.0]
            allowed = OVERALL_PER_SECOND if lane == 0 else BULK_PER_SECOND
            overall = min(stamp[0] for stamp in self._admitted) + 1.0 - now if len(self._admitted) >= allowed else 0.0
            overall = min(overall, IN_FLIGHT_POLL) if overall > 1.0 else overall  # all in flight: look again soon
            if any(self._waiting[before] for before in range(rank)):
                overall = max(overall, 0.005)  # someone ahead of us waits for room: let them have it
            own = self._chat_free.get(chat, 0.0) - now  # a reply waits only after bulk to the same person
            if lane == 1 and not group:
                own = max(own, self._chat_replied.get(chat, 0.0) - now)
            own = min(own, IN_FLIGHT_POLL) if own > 60.0 else own  # the last send to this chat is in flight
            if group:
                own = max(own, (1.0 - self._tokens(chat, now)) * 60.0 / GROUP_PER_MINUTE)
            if lane == 1:
                overall = max(overall, self._bulk_next - now)
            wait = max(overall, own)
            if wait <= 0:
                stamp = [now]
                self._admitted.append(stamp)
                if lane == 1:
                    # The grid, not the moment we woke: a busy event loop wakes us late, and spacing from the
                    # late moment would lose that lateness on every send (26/s instead of 29 was measured).
                    self._bulk_next = max(self._bulk_next, now - BULK_CATCH_UP) + 1.0 / BULK_PER_SECOND
                if group:
                    tokens, _ = self._group_tokens[chat]
                    self._group_tokens[chat] = (tokens - 1.0, now)
                    self._chat_free[chat] = now + GROUP_INTERVAL
                elif lane == 1:
                    self._chat_free[chat] = now + BULK_INTERVAL_PER_CHAT
                else:
                    self._chat_replied[chat] = max(self._chat_replied.get(chat, 0.0), now + BULK_INTERVAL_PER_CHAT)
                return stamp
            # Held back only by the overall limit: those after us give way. Waiting for our own chat's turn: they don't.
            queued = own <= 0
            self._waiting[rank] += queued
            try:
                await self._sleep(max(wait, 0.002))
            finally:
                self._waiting[rank] -= queued

    def _tokens(self, chat: str, now: float) -> float:
        tokens, counted = self._group_tokens.get(chat, (float(GROUP_BURST), now))
        tokens = min(float(GROUP_BURST), tokens + (now - counted) * GROUP_PER_MINUTE / 60.0)
        self._group_tokens[chat] = (tokens, now)
        return tokens


def parse_staff_update(update: Update, staff_chat_id: int | None) -> StaffAction | None:
    """A command, a reply or a button press in the staff group, with who did it."""
    if staff_chat_id is None:
        return None
    query = update.callback_query
    if query is not None:
        if query.message is None or query.message.chat.id != staff_chat_id or not query.data:
            return None
        return StaffAction(telegram_id=str(query.from_user.id), choice=query.data)
    message = update.message
    if message is None or message.chat.id != staff_chat_id or message.from_user is None or not message.text:
        return None
    reply_to = message.reply_to_message
    return StaffAction(telegram_id=str(message.from_user.id), text=message.text, message_id=str(message.message_id),
                       reply_to=str(reply_to.message_id) if reply_to else None)  # fmt: skip


def parse_update(update: Update) -> InboundMessage | None:
    """A private chat's message or button press as an InboundMessage; anything else is ignored."""
    provider_id = str(update.update_id)
    query = update.callback_query
    if query is not None:
        chat = query.message.chat if query.message else None
        if chat is None or chat.type != "private" or not query.data:
            return None
        pressed = str(query.message.message_id) if query.message else None
        return InboundMessage("telegram", provider_id, str(chat.id), Inbound(kind="choice", choice=query.data, pressed=pressed))
    message = update.message
    if message is None or message.chat.type != "private":
        return None
    address = str(message.chat.id)
    if message.contact is not None:
        own = message.contact.user_id == (message.from_user.id if message.from_user else None)
        content = Inbound(kind="contact", phone=message.contact.phone_number if own else None)
        return InboundMessage("telegram", provider_id, address, content)
    if message.text is not None:
        text, source = message.text, None
        if text.startswith("/start "):
            tag = text.split(" ", 1)[1].strip()
            text, source = "/start", tag if SOURCE_TAG.match(tag) else None
        return InboundMessage("telegram", provider_id, address, Inbound(kind="text", text=text), source)
    media = next((kind for kind in MEDIA_KINDS if getattr(message, kind, None)), "other")
    return InboundMessage("telegram", provider_id, address, Inbound(kind="media", media=media))


def _markup(message: Outbound) -> Any:
    if message.request_contact:
        label = message.options[0].label if message.options else "📱"
        return ReplyKeyboardMarkup([[KeyboardButton(label, request_contact=True)]], one_time_keyboard=True, resize_keyboard=True)
    if message.options:
        return InlineKeyboardMarkup([[InlineKeyboardButton(option.label, callback_data=option.key)] for option in message.options])
    return None


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
