"""The fake Telegram Bot API, proven against the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from tests.fakes.telegram_api import FakeBotAPI

# PTB warns whenever it builds a RetryAfter: its retry_after will become a timedelta in v23.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


def bot(fake: FakeBotAPI, token: str | None = None) -> Bot:
    return Bot(token or fake.token, base_url=fake.base_url)


def seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@pytest.mark.asyncio
async def test_initialize_reads_get_me(fake: FakeBotAPI) -> None:
    async with bot(fake) as b:
        assert b.username == "utvag_test_bot"
    assert fake.calls("getMe")[0]["status"] == 200


@pytest.mark.asyncio
async def test_offset_confirms_updates(fake: FakeBotAPI) -> None:
    fake.inject_message(42, "hej")
    fake.inject_message(42, "/start flyer", username="anna")
    async with bot(fake) as b:
        updates = await b.get_updates()
        assert [u.message.text for u in updates] == ["hej", "/start flyer"]
        assert updates[1].message.from_user.username == "anna"
        assert fake.pending_updates == 2 and fake.confirmed_update_id == -1
        assert await b.get_updates(offset=updates[-1].update_id + 1) == ()
    assert fake.pending_updates == 0 and fake.confirmed_update_id == updates[-1].update_id


@pytest.mark.asyncio
async def test_long_poll_times_out_empty_and_wakes_on_inject(fake: FakeBotAPI) -> None:
    async with bot(fake) as b:
        started = time.monotonic()
        assert await b.get_updates(timeout=1) == ()
        assert time.monotonic() - started >= 0.8
        threading.Timer(0.3, fake.inject_message, (7, "late")).start()
        updates = await b.get_updates(timeout=10)
    assert updates[0].message.text == "late"


@pytest.mark.asyncio
async def test_duplicate_update_is_delivered_again(fake: FakeBotAPI) -> None:
    uid = fake.inject_message(5, "once")
    async with bot(fake) as b:
        first = await b.get_updates()
        fake.inject_message(5, "once", update_id=uid)
        again = await b.get_updates(offset=uid + 1)
    assert [u.update_id for u in first] == [u.update_id for u in again] == [uid]


@pytest.mark.asyncio
async def test_send_message_is_recorded_with_parsed_keyboard(fake: FakeBotAPI) -> None:
    async with bot(fake) as b:
        message = await b.send_message(42, "Hej", reply_markup=KEYBOARD)
    [sent] = fake.sent(42)
    assert sent["chat_id"] == "42" and sent["text"] == "Hej" and sent["message_id"] == message.message_id
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "Ja", "callback_data": "yes"}]]}
    assert message.reply_markup == KEYBOARD and message.from_user.id == fake.bot_user["id"]


@pytest.mark.asyncio
async def test_callback_query_quotes_the_bots_message(fake: FakeBotAPI) -> None:
    async with bot(fake) as b:
        message = await b.send_message(42, "Välj", reply_markup=KEYBOARD)
        fake.inject_callback(42, "yes")
        [update] = await b.get_updates()
        query = update.callback_query
        assert query.data == "yes" and query.message.message_id == message.message_id
        assert query.message.reply_markup == KEYBOARD
        assert await query.answer()
    assert len(fake.calls("answerCallbackQuery")) == 1 and len(fake.sent()) == 1


@pytest.mark.asyncio
async def test_contact_and_group_message_parse(fake: FakeBotAPI) -> None:
    fake.inject_contact(42, "+46701234567")
    fake.inject_group_message(-100123, 42, "hello group")
    async with bot(fake) as b:
        contact, group = await b.get_updates()
    assert contact.message.contact.phone_number == "+46701234567" and contact.message.contact.user_id == 42
    assert group.message.chat.type == "supergroup" and group.message.from_user.id == 42


@pytest.mark.asyncio
async def test_edit_replaces_text_and_drops_keyboard(fake: FakeBotAPI) -> None:
    async with bot(fake) as b:
        message = await b.send_message(42, "Välj", reply_markup=KEYBOARD)
        edited = await b.edit_message_text("Vald: Ja", chat_id=42, message_id=message.message_id)
        assert edited.text == "Vald: Ja" and edited.reply_markup is None
        with pytest.raises(BadRequest, match="not modified"):
            await b.edit_message_text("Vald: Ja", chat_id=42, message_id=message.message_id)
    assert [s["method"] for s in fake.sent(42)] == ["sendMessage", "editMessageText"]


@pytest.mark.asyncio
async def test_fail_next_429_raises_retry_after_once(fake: FakeBotAPI) -> None:
    fake.fail_next("sendMessage", retry_after=3)
    async with bot(fake) as b:
        with pytest.raises(RetryAfter) as caught:
            await b.send_message(42, "first")
        assert seconds(caught.value.retry_after) == 3
        await b.send_message(42, "second")
    assert [s["text"] for s in fake.sent(42)] == ["second"]
    assert [c["status"] for c in fake.calls("sendMessage")] == [429, 200]


@pytest.mark.asyncio
async def test_block_chat_raises_forbidden(fake: FakeBotAPI) -> None:
    fake.block_chat(42)
    async with bot(fake) as b:
        with pytest.raises(Forbidden, match="blocked by the user"):
            await b.send_message(42, "hej")
        await b.send_message(43, "hej")
    assert fake.sent(42) == [] and len(fake.sent(43)) == 1


@pytest.mark.asyncio
async def test_wrong_token_and_unknown_method(fake: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with bot(fake, "654321:WRONG"):  # initialize() calls getMe, which answers 401
            pass
    assert fake.calls("getMe")[0]["status"] == 401
    async with bot(fake) as b:
        with pytest.raises(BadRequest, match="Method not found"):  # PTB strips "Bad Request: "
            await b.do_api_request("noSuchMethod")


@pytest.mark.asyncio
async def test_rate_limit_counts_too_many(fake: FakeBotAPI) -> None:
    fake.rate_limit(per_second=None, per_chat_per_second=2)
    async with bot(fake) as b:
        await b.send_message(42, "1")
        await b.send_message(42, "2")
        await b.send_message(43, "other chat")
        with pytest.raises(RetryAfter):
            await b.send_message(42, "3")
    assert fake.too_many == 1 and len(fake.sent()) == 3


@pytest.mark.asyncio
async def test_a_group_takes_only_so_many_posts_a_minute(fake: FakeBotAPI) -> None:
    fake.rate_limit(per_second=None, per_group_per_minute=3)
    async with bot(fake) as b:
        for n in range(3):
            await b.send_message(-100, f"post {n}")
        await b.send_message(42, "a private chat is not a group")
        with pytest.raises(RetryAfter):
            await b.send_message(-100, "one too many")
    assert fake.too_many == 1 and len(fake.sent(-100)) == 3


@pytest.mark.asyncio
async def test_hang_records_then_never_answers(fake: FakeBotAPI) -> None:
    fake.hang("sendMessage")
    async with bot(fake) as b:
        with pytest.raises(TimedOut):
            await b.send_message(42, "in flight", read_timeout=0.5)
        fake.unhang()
        await b.send_message(42, "after")
    assert [s["text"] for s in fake.sent(42)] == ["in flight", "after"]


def test_raw_http_json_get_and_case_insensitive_methods(fake: FakeBotAPI) -> None:
    with httpx.Client(base_url=f"{fake.base_url}{fake.token}", trust_env=False) as http:
        assert http.get("/GETME").json()["result"]["username"] == "utvag_test_bot"
        sent = http.post("/sendmessage", json={"chat_id": 42, "text": "json body"}).json()
        assert sent["ok"] and sent["result"]["chat"]["id"] == 42
        assert http.get("/getUpdates", params={"timeout": "0"}).json() == {"ok": True, "result": []}
    assert fake.sent(42)[0]["chat_id"] == "42"


@pytest.mark.asyncio
async def test_multipart_upload_is_decoded(fake: FakeBotAPI) -> None:
    async with bot(fake) as b:
        await b.send_document(42, document=b"%PDF-1.4", filename="info.pdf", caption="Broschyr")
    [sent] = fake.sent(42)
    assert sent["text"] == "Broschyr" and sent["params"]["document"] == {"filename": "info.pdf", "size": 8}


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint: records each POST, answers 200 on /ok and 500 elsewhere."""

    def __init__(self) -> None:
        self.posts: list[tuple[str | None, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.posts.append((self.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
                self.send_response(200 if self.path == "/ok" else 500)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass  # keep pytest output clean

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.asyncio
async def test_webhook_blocks_polling_until_deleted(fake: FakeBotAPI, receiver: Receiver) -> None:
    async with bot(fake) as b:
        assert await b.set_webhook(receiver.url("/ok"), secret_token="s3cret_-", allowed_updates=["message"])
        assert fake.webhook and fake.webhook["secret_token"] == "s3cret_-" and fake.webhook["allowed_updates"] == ["message"]
        with pytest.raises(Conflict, match="webhook is active"):
            await b.get_updates()
        assert (await b.get_webhook_info()).url == receiver.url("/ok")
        with pytest.raises(BadRequest, match="Secret token"):
            await b.set_webhook(receiver.url("/ok"), secret_token="not allowed!")
        await b.delete_webhook()
        assert fake.webhook is None and await b.get_updates() == ()


@pytest.mark.asyncio
async def test_deliver_webhook_confirms_only_on_2xx(fake: FakeBotAPI, receiver: Receiver) -> None:
    async with bot(fake) as b:
        await b.set_webhook(receiver.url("/fail"), secret_token="s3cret")
        uid = fake.inject_message(42, "hej")
        assert fake.deliver_webhook() == 500 and fake.pending_updates == 1
        await b.set_webhook(receiver.url("/ok"), secret_token="s3cret")
    assert fake.deliver_webhook() == 200 and fake.pending_updates == 0 and fake.confirmed_update_id == uid
    assert fake.deliver_webhook(uid, secret=None) == 200  # Telegram may redeliver a confirmed update
    assert [(secret, body["update_id"]) for secret, body in receiver.posts] == [("s3cret", uid)] * 2 + [(None, uid)]
    assert receiver.posts[0][1]["message"]["text"] == "hej"


@pytest.mark.asyncio
async def test_stop_frees_long_polls_and_hung_calls(fake: FakeBotAPI) -> None:
    fake.hang("sendMessage")
    async with bot(fake) as b:
        poll = asyncio.create_task(b.get_updates(timeout=30, read_timeout=40))
        send = asyncio.create_task(b.send_message(42, "in flight", read_timeout=40))
        # Both blocking calls go to a thread: this loop must keep running the requests.
        await asyncio.to_thread(fake.wait_for, lambda api: len(api.calls("getUpdates")) == 1 and len(api.sent(42)) == 1)
        started = time.monotonic()
        await asyncio.to_thread(fake.stop)
        assert time.monotonic() - started < 3
        assert await poll == ()
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await send
