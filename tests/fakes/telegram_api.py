"""A stand-in Telegram Bot API server on 127.0.0.1 that speaks the real wire format to PTB or `utvag run`."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import LoopbackServer

JSON = dict[str, Any]

# Free-text or identifier parameters stay strings; everything else PTB JSON-encodes, so we decode it.
_STRING_PARAMS = frozenset({
    "chat_id", "from_chat_id", "text", "caption", "parse_mode", "callback_query_id", "inline_message_id",
    "url", "secret_token", "ip_address", "action", "phone_number", "first_name", "last_name", "title",
    "emoji", "description", "short_description", "name", "language_code", "business_connection_id",
})  # fmt: skip
_TRUE_METHODS = frozenset({
    "answercallbackquery", "sendchataction", "setmycommands", "deletemycommands", "logout", "close",
    "setmydescription", "setmyshortdescription", "setmyname", "setchatmenubutton",
})  # fmt: skip
_KNOWN = _TRUE_METHODS | {
    "getme", "getupdates", "getmycommands", "setwebhook", "deletewebhook", "getwebhookinfo",
    "editmessagetext", "editmessagereplymarkup", "deletemessage", "getchat",
}  # fmt: skip
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_CONFLICT = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
}


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _outgoing(key: str) -> bool:
    """Calls that put something in a chat: these are what sent() records and blocks/limits apply to."""
    return key.startswith(("send", "edit", "deletemessage")) and key != "sendchataction"


def _decode(key: str, value: Any) -> Any:
    if key in _STRING_PARAMS:
        return value if value is None or isinstance(value, str) else str(value)  # JSON bodies may send ints
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)  # PTB sends nested objects, numbers and booleans JSON-encoded in form fields
    except ValueError:
        return value


def _parse_multipart(content_type: str, body: bytes) -> JSON:
    # python-multipart is not installed, and the stdlib email parser understands multipart/form-data.
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: JSON = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        fields[str(name)] = {"filename": filename, "size": len(payload)} if filename else payload.decode()
    return fields


async def _read_params(request: Request) -> JSON:
    raw: JSON = dict(request.query_params)
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json") and body:
        raw.update(json.loads(body))
    elif content_type.startswith("multipart/form-data"):
        raw.update(_parse_multipart(content_type, body))
    elif body:
        raw.update(parse_qsl(body.decode(), keep_blank_values=True))
    return {key: _decode(key, value) for key, value in raw.items()}


class FakeBotAPI(LoopbackServer):
    """One fake bot: inject what users do, read what the bot did, and make Telegram misbehave on demand."""

    kind = "Telegram"

    def __init__(self, token: str = "123456:TEST-TOKEN", host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.token = token
        self.bot_user: JSON = {"id": 999000, "is_bot": True, "first_name": "Utväg", "username": "utvag_test_bot"}
        self.webhook: JSON | None = None
        self.groups: set[int] = set()  # groups the bot is a member of: getChat finds these (and any chat it has talked in)
        self.too_many = 0
        self._lock = threading.RLock()  # the test thread injects/reads while the server thread answers
        self._calls: list[JSON] = []
        self._sent: list[JSON] = []
        self._queue: list[JSON] = []  # {"update": ..., "delivered": bool}, in injection order
        self._history: dict[int, JSON] = {}  # every injected update, so a webhook can redeliver one
        self._messages: dict[tuple[str, int], JSON] = {}  # (chat id, message id) -> message, in order
        self._confirmed = -1
        self._next_update_id = 1
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._failures: dict[str, deque[_ApiError]] = {}
        self._blocked: set[str] = set()
        self._hanging: dict[str, bool] = {}  # lower-case method -> record before hanging
        self._limits: tuple[float | None, float | None] = (None, None)
        self._send_times: deque[tuple[float, str]] = deque()
        self._group_times: deque[tuple[float, str]] = deque()  # sends to groups in the last minute
        self._group_limit: int | None = None
        self._wake = asyncio.Event()  # set when an update arrives, wakes long polls
        self._release = asyncio.Event()  # set by unhang()/stop(), frees hung requests

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"  # PTB appends "<token>/<method>"

    def _app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])

    def _on_start(self) -> None:
        self._wake, self._release = asyncio.Event(), asyncio.Event()

    def _on_stop(self) -> None:
        # Free long polls and hung calls: uvicorn waits for open requests before it exits.
        self._release.set()
        self._wake.set()

    # -- what users do -----------------------------------------------------------------------------

    def inject_message(self, chat_id: int, text: str | None = None, *, first_name: str = "Test", username: str | None = None,
                       message_id: int | None = None, update_id: int | None = None, extra: JSON | None = None) -> int:  # fmt: skip
        chat: JSON = {"id": chat_id, "type": "private", "first_name": first_name}
        if username:
            chat["username"] = username
        message: JSON = {"chat": chat, "from": self._user(chat_id, first_name, username)}
        if text is not None:
            message["text"] = text
            if text.startswith("/"):  # Telegram marks commands; PTB's CommandHandler relies on it
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        message.update(extra or {})
        return self._inject("message", self._stamp(message, message_id), update_id)

    def inject_callback(self, chat_id: int, data: str, *, message_id: int | None = None, from_user: int | None = None) -> int:
        """A button press; in a group, `from_user` is who pressed it (default: the chat's own user)."""
        with self._lock:
            message = self._find_message(str(chat_id), message_id)
        presser = self._user(from_user if from_user is not None else chat_id)
        # PTB cannot parse a callback_query without chat_instance.
        query = {"id": str(next(self._callback_ids)), "from": presser, "chat_instance": f"ci-{chat_id}",
                 "data": data, "message": message}  # fmt: skip
        return self._inject("callback_query", query, None)

    def inject_contact(self, chat_id: int, phone_number: str) -> int:
        contact = {"phone_number": phone_number, "first_name": "Test", "user_id": chat_id}
        return self.inject_message(chat_id, extra={"contact": contact})

    def inject_group_message(self, chat_id: int, user_id: int, text: str, *, reply_to_message_id: int | None = None) -> int:
        message: JSON = {"chat": {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"},
                         "from": self._user(user_id), "text": text}  # fmt: skip
        if reply_to_message_id is not None:
            with self._lock:
                message["reply_to_message"] = self._find_message(str(chat_id), reply_to_message_id)
        return self._inject("message", self._stamp(message, None), None)

    def _user(self, user_id: int, first_name: str = "Test", username: str | None = None) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        return {**user, "username": username} if username else user

    def _stamp(self, message: JSON, message_id: int | None) -> JSON:
        """Give a message its id and date and remember it, so replies and callbacks can quote it."""
        with self._lock:
            message = {"message_id": message_id or next(self._message_ids), "date": int(time.time()), **message}
            self._messages[(str(message["chat"]["id"]), message["message_id"])] = message
            return copy.deepcopy(message)

    def _find_message(self, chat: str, message_id: int | None) -> JSON:
        if message_id is None:  # the newest message the bot sent there: the one whose button is pressed
            mine = [m for (c, _), m in self._messages.items() if c == chat and m["from"]["id"] == self.bot_user["id"]]
            found = mine[-1] if mine else None
        else:
            found = self._messages.get((chat, message_id))
        if found is None:
            found = {"message_id": message_id or 1, "date": int(time.time()), "chat": self._chat(chat), "from": self.bot_user}
        return {k: copy.deepcopy(v) for k, v in found.items() if k != "reply_to_message"}  # Telegram nests one level

    @staticmethod
    def _chat(chat: str) -> JSON:
        number = int(chat) if chat.lstrip("-").isdigit() else 0  # "@channel" ids get 0
        if number > 0:
            return {"id": number, "type": "private", "first_name": "Test"}
        return {"id": number, "type": "supergroup", "title": chat}

    def _inject(self, kind: str, payload: JSON, update_id: int | None) -> int:
        with self._lock:
            uid = self._next_update_id if update_id is None else update_id
            self._next_update_id = max(self._next_update_id, uid + 1)
            update = {"update_id": uid, kind: payload}
            self._queue.append({"update": update, "delivered": False})
            self._history[uid] = update
        self._in_loop(self._wake.set)
        return uid

    def update(self, update_id: int) -> JSON:
        """An injected update as Telegram would deliver it."""
        with self._lock:
            return copy.deepcopy(self._history[update_id])

    # -- what the bot did --------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[JSON]:
        with self._lock:
            return [copy.deepcopy(s) for s in self._sent if chat_id is None or s["chat_id"] == str(chat_id)]

    def calls(self, method: str | None = None) -> list[JSON]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._calls if method is None or c["method"].lower() == method.lower()]

    def wait_for(self, predicate: Callable[[FakeBotAPI], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                name = getattr(predicate, "__name__", repr(predicate))
                calls = [(c["method"], c["status"]) for c in self.calls()[-15:]]
                sent = [(s["method"], s["chat_id"], s["text"]) for s in self.sent()[-10:]]
                raise AssertionError(f"fake Telegram: {name} still false after {timeout}s; pending updates "
                                     f"{self.pending_updates}; last calls {calls}; last sent {sent}")  # fmt: skip
            time.sleep(0.02)

    def wait_for_sent(self, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[JSON]:
        def sent_enough(api: FakeBotAPI) -> bool:
            return len(api.sent(chat_id)) >= count

        sent_enough.__name__ = f"{count} message(s) sent to {chat_id}"
        self.wait_for(sent_enough, timeout)
        return self.sent(chat_id)

    @property
    def confirmed_update_id(self) -> int:
        with self._lock:
            return self._confirmed

    @property
    def pending_updates(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- failures on demand ------------------------------------------------------------------------

    def fail_next(self, method: str, *, status: int = 429, retry_after: int | None = 1, description: str | None = None,
                  times: int = 1) -> None:  # fmt: skip
        if description is None:
            tail = f": retry after {retry_after}" if retry_after is not None else ""
            description = f"Too Many Requests{tail}" if status == 429 else _DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
        # Only a 429 carries retry_after: PTB turns any error with it into RetryAfter, hiding a 403 or 400.
        error = _ApiError(status, description, retry_after if status == 429 else None)
        with self._lock:
            self._failures.setdefault(method.lower(), deque()).extend([error] * times)

    def block_chat(self, chat_id: int) -> None:
        with self._lock:
            self._blocked.add(str(chat_id))

    def hang(self, method: str, *, record: bool = True) -> None:
        with self._lock:
            self._hanging[method.lower()] = record

    def unhang(self) -> None:
        with self._lock:
            self._hanging.clear()
        self._in_loop(self._release_hung)

    def _release_hung(self) -> None:
        self._release.set()  # wakes everyone waiting on this event; later hangs wait on a fresh one
        self._release = asyncio.Event()

    def rate_limit(self, per_second: float | None, per_chat_per_second: float | None = None, per_group_per_minute: int | None = 20) -> None:
        """Refuse with 429 what Telegram would: more than `per_second` sends a second in all, more than
        `per_chat_per_second` to one chat, more than `per_group_per_minute` to one group (a negative chat id)."""
        with self._lock:
            self._limits = (per_second, per_chat_per_second)
            self._group_limit = per_group_per_minute
            self._send_times.clear()
            self._group_times.clear()

    def _gate(self, key: str, params: JSON) -> None:
        """Refuse a call the way Telegram would: scripted failure, blocked chat, or flood control."""
        failures = self._failures.get(key)
        if failures:
            raise failures.popleft()
        if not _outgoing(key):
            return
        chat = str(params.get("chat_id"))
        if chat in self._blocked:
            raise _ApiError(403, _DESCRIPTIONS[403])
        overall, per_chat = self._limits
        if overall is None and per_chat is None and self._group_limit is None:
            return
        now = time.monotonic()
        while self._send_times and now - self._send_times[0][0] >= 1.0:
            self._send_times.popleft()
        while self._group_times and now - self._group_times[0][0] >= 60.0:
            self._group_times.popleft()
        in_chat = sum(1 for _, c in self._send_times if c == chat)
        in_group = sum(1 for _, c in self._group_times if c == chat) if chat.startswith("-") else 0
        if ((overall is not None and len(self._send_times) >= overall) or (per_chat is not None and in_chat >= per_chat)
                or (self._group_limit is not None and in_group >= self._group_limit)):  # fmt: skip
            self.too_many += 1
            raise _ApiError(429, "Too Many Requests: retry after 1", 1)
        self._send_times.append((now, chat))
        if chat.startswith("-"):
            self._group_times.append((now, chat))

    # -- webhook mode ------------------------------------------------------------------------------

    def deliver_webhook(self, update_id: int | None = None, *, secret: str | None = "__use_set__", timeout: float = 10.0) -> int:
        """POST pending updates (or one, even an already confirmed one) to the webhook; 0 if nothing answered."""
        with self._lock:
            if self.webhook is None:
                raise AssertionError("deliver_webhook: no webhook is set (setWebhook never called, or deleteWebhook)")
            hook = dict(self.webhook)
            if update_id is None:
                entries = list(self._queue)
            elif update_id in self._history:
                entries = [next((e for e in self._queue if e["update"]["update_id"] == update_id), {"update": self._history[update_id]})]
            else:
                raise AssertionError(f"deliver_webhook: update {update_id} was never injected")
        token = hook.get("secret_token") if secret == "__use_set__" else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        status = 0
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            for entry in entries:
                try:
                    status = client.post(hook["url"], json=entry["update"], headers=headers).status_code
                except httpx.TransportError:
                    status = 0
                if not 200 <= status < 300:
                    break  # Telegram keeps it and retries later, in order
                with self._lock:
                    self._queue = [e for e in self._queue if e is not entry]
                    self._confirmed = max(self._confirmed, entry["update"]["update_id"])
        return status

    def _drop_pending(self) -> None:
        ids = [e["update"]["update_id"] for e in self._queue]
        self._confirmed = max([self._confirmed, *ids])
        self._queue.clear()

    # -- the HTTP side -----------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        name = request.path_params["method"]
        try:
            params = await _read_params(request)
        except ValueError:
            params = {}
        call: JSON = {"method": name, "params": params, "status": 0, "at": time.monotonic()}
        with self._lock:
            self._calls.append(call)
        try:
            if request.path_params["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            status, body = 200, {"ok": True, "result": await self._answer(name.lower(), name, params)}
        except _ApiError as error:
            status, body = error.status, error.body()
        with self._lock:
            call["status"] = status
        return JSONResponse(body, status_code=status)

    async def _answer(self, key: str, name: str, params: JSON) -> Any:
        if key not in _KNOWN and not key.startswith("send"):
            raise _ApiError(400, "Bad Request: method not found")  # not 404: PTB maps 404 to InvalidToken
        with self._lock:
            self._gate(key, params)
            record = self._hanging.get(key)
        if record is False:
            await self._hold()
        if key == "getupdates":
            result = await self._get_updates(params)
        else:
            with self._lock:
                result = self._handle(key, name, params)
        if record:
            await self._hold()
        return result

    async def _hold(self) -> None:
        await self._release.wait()
        if self._closing:
            raise _ApiError(502, "Bad Gateway")

    async def _get_updates(self, params: JSON) -> list[JSON]:
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            # Clearing before looking is race-free: an inject's wake-up runs on this loop after we await.
            self._wake.clear()
            with self._lock:
                if self.webhook is not None:
                    raise _ApiError(409, _CONFLICT)
                batch = self._take(params)
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0 or self._closing:
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    def _take(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        if offset > 0:
            # Forget confirmed updates. Only delivered ones: an update re-injected with an old id (a duplicate
            # delivery) must still reach the bot once, even though its id is below the offset.
            self._queue = [e for e in self._queue if not (e["delivered"] and e["update"]["update_id"] < offset)]
            self._confirmed = max(self._confirmed, offset - 1)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list) and allowed:  # Telegram never delivers the other kinds
            self._queue = [e for e in self._queue if next(k for k in e["update"] if k != "update_id") in allowed]
        batch = self._queue[: max(1, min(100, int(params.get("limit") or 100)))]
        for entry in batch:
            entry["delivered"] = True
        return copy.deepcopy([e["update"] for e in batch])

    def _handle(self, key: str, name: str, p: JSON) -> Any:
        if key == "getme":
            return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
        if key in _TRUE_METHODS:
            return True
        if key == "getmycommands":
            return []
        if key == "getchat":
            chat = str(p.get("chat_id"))
            if int(chat) not in self.groups and not any(c == chat for c, _ in self._messages):
                raise _ApiError(400, "Bad Request: chat not found")
            return {**self._chat(chat), "accent_color_id": 0, "max_reaction_count": 11}
        if key == "setwebhook":
            if p.get("secret_token") is not None and not _SECRET.match(str(p["secret_token"])):
                raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
            if p.get("drop_pending_updates"):
                self._drop_pending()
            keep = {k: v for k, v in p.items() if k not in ("drop_pending_updates", "certificate")}
            self.webhook = {"secret_token": None, "allowed_updates": None, **keep} if p.get("url") else None
            return True
        if key == "deletewebhook":
            if p.get("drop_pending_updates"):
                self._drop_pending()
            self.webhook = None
            return True
        if key == "getwebhookinfo":
            hook = self.webhook or {}
            info = {"url": hook.get("url", ""), "has_custom_certificate": False, "pending_update_count": len(self._queue)}
            return info | {k: hook[k] for k in ("max_connections", "allowed_updates") if hook.get(k) is not None}
        if key == "deletemessage":
            if self._messages.pop((str(p.get("chat_id")), int(p.get("message_id") or 0)), None) is None:
                raise _ApiError(400, "Bad Request: message to delete not found")
            self._record(name, p, None)
            return True
        if key.startswith("edit"):
            return self._edit(key, name, p)
        return self._send(name, p)

    def _send(self, name: str, p: JSON) -> JSON:
        chat = str(p.get("chat_id"))
        message: JSON = {"chat": self._chat(chat), "from": self.bot_user}
        message |= {k: p[k] for k in ("text", "caption") if p.get(k) is not None}
        if isinstance(p.get("reply_markup"), dict) and "inline_keyboard" in p["reply_markup"]:
            message["reply_markup"] = p["reply_markup"]  # Telegram echoes inline keyboards only, never reply keyboards
        message = self._stamp(message, None)
        self._record(name, p, message["message_id"])
        return message

    def _edit(self, key: str, name: str, p: JSON) -> JSON | bool:
        if p.get("inline_message_id"):
            self._record(name, p, None)
            return True
        ident = (str(p.get("chat_id")), int(p.get("message_id") or 0))
        old = self._messages.get(ident)
        if old is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        new = {k: v for k, v in old.items() if k != "reply_markup"}  # no reply_markup = keyboard removed
        if key == "editmessagetext":
            new["text"] = p.get("text")
        if p.get("reply_markup") is not None:
            new["reply_markup"] = p["reply_markup"]
        if new == old:
            raise _ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                 "markup are exactly the same as a current content and reply markup of the message")  # fmt: skip
        self._messages[ident] = new = {**new, "edit_date": int(time.time())}
        self._record(name, p, ident[1])
        return copy.deepcopy(new)

    def _record(self, name: str, p: JSON, message_id: int | None) -> None:
        chat = p.get("chat_id")
        self._sent.append({"method": name, "chat_id": None if chat is None else str(chat), "text": p.get("text", p.get("caption")),
                           "reply_markup": p.get("reply_markup"), "params": copy.deepcopy(p), "message_id": message_id})  # fmt: skip
