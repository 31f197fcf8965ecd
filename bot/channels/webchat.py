"""The web chat: a plain page, a signed random id in a cookie, and a small JSON API over the same engine.

The server issues every visitor id (signed with the pseudonym key) and accepts no other: an id cannot be chosen
beforehand, and none is stored in clear, so a copy of the database opens no chat. The quick exit forgets the
chat on the device; a four-word code the person wrote down reopens it anywhere. Sends are limited per visitor
and new chats per address, a message that signals danger always goes through, and a flood is one alert.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot.channels import resume
from bot.channels.base import Accept, ChannelInfo, InboundMessage, Outbound
from bot.ratelimit import TokenBuckets
from bot.web import origin_of
from handlers.catalogue import Catalogue
from handlers.triage import NORMAL, assess
from handlers.turn import Inbound
from storage.contacts import find_identity, move_identity, resume_identity, set_resume_code
from storage.crypto import active_keyring
from storage.transcript import delivered_lines

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "webchat_static"
STATIC_FILES = {"chat.js": "text/javascript", "chat.css": "text/css", "leave.js": "text/javascript"}
MAX_TEXT = 4000
MAX_BODY = 32 * 1024  # 4000 characters escaped as \\uXXXX fit; nothing larger is read
MAX_ID = 2**63 - 1
SOURCE_TAG = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
RAW_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
SOURCE_COOKIE = "utvag_src"
COOKIE_DAYS = 90
POLL_MS = 1500
FIRST_WAIT_STEPS = 15
# A person types and taps: 10 at once, then one every 2 s. A new chat per address: 5 at once, then one a minute
# (a school or a café shares one address). Codes: 5 tries, then one a minute, per address and 30 a minute in all.
SEND_BURST, SEND_EVERY = 10, 2.0
NEW_BURST, NEW_EVERY = 5, 60.0
CODE_BURST, CODE_EVERY = 5, 60.0
CODES_IN_ALL_BURST, CODES_IN_ALL_EVERY = 30, 2.0
CODE_WORDS = {"kod", "/kod", "koden", "min kod", "code", "/code", "my code"}
FLOOD_ALERT_EVERY = 15 * 60  # seconds: a flood is one alert, however long it lasts
FAREWELLS_KEPT, FAREWELL_SECONDS = 1000, 600
FAREWELL_ID = 2**53 - 1  # JavaScript's largest exact integer
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

OnFlood = Callable[[str], Awaitable[None]]


class WebChatChannel:
    name = "webchat"

    def __init__(
        self, sessions: sessionmaker[Session], *, secure_cookie: bool = False, public_url: str | None = None,
        catalogue: Catalogue | None = None,
        on_flood: OnFlood | None = None, monotonic: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.sessions = sessions
        # Behind a proxy the Host header is the proxy's upstream (127.0.0.1:8080), never what the browser saw: with a
        # public URL, a send's Origin is compared with it.
        self.origin = origin_of(public_url) if public_url else None
        self.secure_cookie = secure_cookie
        self.cookie = "__Host-utvag_chat" if secure_cookie else "utvag_chat"
        self.catalogue = catalogue or Catalogue.load()
        self.on_flood = on_flood
        self._monotonic = monotonic
        self.sends = TokenBuckets(SEND_BURST, SEND_EVERY, monotonic=monotonic)
        self.newcomers = TokenBuckets(NEW_BURST, NEW_EVERY, monotonic=monotonic)
        self.code_tries = TokenBuckets(CODE_BURST, CODE_EVERY, monotonic=monotonic)
        self.code_tries_in_all = TokenBuckets(CODES_IN_ALL_BURST, CODES_IN_ALL_EVERY, monotonic=monotonic)
        self._last_flood_alert: float | None = None
        self._refused = 0
        # The goodbye after an erasure, by keyed hash of the visitor, until the page fetches it (this process only).
        self._farewells: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._accept: Accept | None = None
        self.info = ChannelInfo(
            idempotent_send=True,
            routes=[
                Route("/chat", self._page, methods=["GET"]),
                Route("/chat/leave", self._leave, methods=["GET"]),
                Route("/chat/static/{name}", self._static, methods=["GET"]),
                Route("/chat/api/messages", self._messages, methods=["GET"]),
                Route("/chat/api/send", self._send, methods=["POST"]),
                Route("/chat/api/code", self._code, methods=["POST"]),
                Route("/chat/api/resume", self._resume, methods=["POST"]),
            ],
        )

    async def start(self, accept: Accept) -> None:
        self._accept = accept

    async def stop(self) -> None:
        return None

    async def pace(self, message: Outbound) -> None:
        return None  # showing a stored row costs nothing

    def unpace(self, message: Outbound) -> None:
        return None

    async def send(self, message: Outbound) -> str | None:
        # A reply is already stored in the transcript; marking it sent makes it visible to the page. The farewell
        # after an erasure has no transcript left to live in: it waits here until the page asks.
        if message.farewell:
            self._farewells[_keyed(message.address)] = (message.text, self._monotonic() + FAREWELL_SECONDS)
            while len(self._farewells) > FAREWELLS_KEPT:
                self._farewells.popitem(last=False)
        return None

    # -- pages ---------------------------------------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        # No visitor cookie here: someone arriving through a link from another site comes without their SameSite
        # cookie, and a new one set now would replace it. The page's own first request (same site) issues one.
        response = FileResponse(STATIC / "chat.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)
        tag = request.query_params.get("k", "")
        if SOURCE_TAG.match(tag) and not self._visitor(request):  # which poster brought them: a campaign, nothing about them
            response.set_cookie(SOURCE_COOKIE, tag, max_age=3600, path="/", httponly=True, samesite="strict",
                                secure=self.secure_cookie)  # fmt: skip
        return response

    async def _leave(self, request: Request) -> Response:
        """The quick exit: this device's id stops opening the chat, and the browser forgets it."""
        visitor = self._visitor(request)
        if visitor:
            await asyncio.to_thread(self._move, visitor, secrets.token_urlsafe(24))  # an id nobody was ever given
        # A page that goes on by itself, not a redirect: the browser then treats the search engine as a new page.
        response = FileResponse(STATIC / "leave.html", media_type="text/html; charset=utf-8",
                                headers={**SECURITY_HEADERS, "Clear-Site-Data": '"cookies", "storage"'})  # fmt: skip
        response.delete_cookie(self.cookie, path="/", secure=self.secure_cookie, httponly=True, samesite="strict")
        response.delete_cookie(SOURCE_COOKIE, path="/", secure=self.secure_cookie, httponly=True, samesite="strict")
        return response

    async def _static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response(status_code=404)
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers=SECURITY_HEADERS)

    # -- API -----------------------------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        after_text = request.query_params.get("after", "0")
        if not after_text.isascii() or not after_text.isdigit() or len(after_text) > 19 or int(after_text) > MAX_ID:
            return self._error(request, "webchat.bad_after", 400)
        after = int(after_text)
        visitor = self._visitor(request)
        cookie = None
        if visitor is None:
            if not self.newcomers.take(_client_key(request)):
                await self._flooded("new chats from one address")
                return self._error(request, "webchat.too_many_new", 429)
            visitor, cookie = _issue()
            tag = request.cookies.get(SOURCE_COOKIE, "")
            source = tag if SOURCE_TAG.match(tag) else None
            # A first visit: start the conversation so the greeting is waiting. Its provider id is keyed, not the id.
            await self._deliver(visitor, f"start:{_keyed(visitor)}", Inbound(kind="start", text="/start"), source)
        identity_id = await asyncio.to_thread(self._identity_id, visitor)
        if identity_id is None:
            return self._farewell_or_nothing(visitor, after)
        lines = await asyncio.to_thread(self._lines, identity_id, after)
        for _ in range(FIRST_WAIT_STEPS if after == 0 and not lines else 0):
            # A first visit: wait a moment for the greeting rather than show an empty page for a whole poll.
            await asyncio.sleep(0.1)
            lines = await asyncio.to_thread(self._lines, identity_id, after)
            if lines:
                break
        payload = [
            {"id": line.id, "from": "me" if line.direction == "in" else "bot", "text": line.text,
             "options": [{"key": key, "label": label} for key, label in line.options], **({"danger": True} if line.danger else {})}
            for line in lines
        ]  # fmt: skip
        response = JSONResponse({"messages": payload, "poll_ms": POLL_MS}, headers=SECURITY_HEADERS)
        if cookie:
            self._set_cookie(response, cookie)
        return response

    async def _send(self, request: Request) -> Response:
        if not self._json_from_here(request):
            return self._error(request, "webchat.cross_site", 400)
        visitor = self._visitor(request)
        if not visitor:
            return self._error(request, "webchat.reload", 400)
        body = await _read_json(request)
        if isinstance(body, str):
            return self._error(request, body, 413 if body == "webchat.too_large" else 400)
        text, choice = body.get("text"), body.get("choice")
        text = "" if text is None else text if isinstance(text, str) else json.dumps(text)
        choice = None if choice in (None, "") else (choice if isinstance(choice, str) else json.dumps(choice))[:64]
        if not _readable(text) or not _readable(choice or ""):
            return self._error(request, "webchat.unreadable", 400)
        if len(text) > MAX_TEXT:
            return self._error(request, "webchat.too_long", 413)
        if not self.sends.take(_keyed(visitor)) and assess(text).level == NORMAL:  # what might be danger always goes through
            await self._flooded("messages from one chat")
            return self._error(request, "webchat.slow_down", 429)
        if not choice and " ".join(text.lower().split()) in CODE_WORDS:
            # Asked for a code: shown beside the chat, never in the transcript a later reader would see.
            code = resume.new_code()
            if await asyncio.to_thread(self._store_code, visitor, code):
                return JSONResponse({"id": None, "notice": self._text(request, "webchat.code", code=code)}, status_code=200,
                                    headers=SECURITY_HEADERS)  # fmt: skip
        content = Inbound(kind="choice", choice=choice, text=text) if choice else Inbound(kind="text", text=text)
        accepted = await self._deliver(visitor, uuid.uuid4().hex, content)
        return JSONResponse({"id": accepted}, status_code=202, headers=SECURITY_HEADERS)

    async def _code(self, request: Request) -> Response:
        """A new code for this chat (it replaces an older one); shown once, stored only as a keyed hash."""
        if not self._json_from_here(request):
            return self._error(request, "webchat.cross_site", 400)
        visitor = self._visitor(request)
        if not visitor:
            return self._error(request, "webchat.reload", 400)
        if not self.sends.take(_keyed(visitor)):
            await self._flooded("codes from one chat")
            return self._error(request, "webchat.slow_down", 429)
        code = resume.new_code()
        if not await asyncio.to_thread(self._store_code, visitor, code):
            return self._error(request, "webchat.code_none", 409)
        return JSONResponse({"code": code, "text": self._text(request, "webchat.code", code=code)}, headers=SECURITY_HEADERS)

    async def _resume(self, request: Request) -> Response:
        """Reopen a chat with its code: this browser gets a new id, and the device the chat was on loses it."""
        if not self._json_from_here(request):
            return self._error(request, "webchat.cross_site", 400)
        if not self.code_tries.take(_client_key(request)) or not self.code_tries_in_all.take("all"):
            await self._flooded("code guesses")
            return self._error(request, "webchat.code_wait", 429)
        body = await _read_json(request)
        if isinstance(body, str):
            return self._error(request, body, 413 if body == "webchat.too_large" else 400)
        typed = body.get("code")
        code = resume.normalise(typed) if isinstance(typed, str) and _readable(typed) else None
        visitor, cookie = _issue()
        if code is None or not await asyncio.to_thread(self._resume_as, code, visitor):
            log.info("web chat: a resume code did not match")
            return self._error(request, "webchat.code_wrong", 400)
        response = JSONResponse({"ok": True}, headers=SECURITY_HEADERS)
        self._set_cookie(response, cookie)
        return response

    # -- helpers -------------------------------------------------------------------------------------------

    def _farewell_or_nothing(self, visitor: str, after: int) -> Response:
        """A valid id with no chat behind it: erased (show the goodbye once, then forget) or moved elsewhere."""
        farewell = self._farewells.pop(_keyed(visitor), None)
        if farewell is None or farewell[1] < self._monotonic():
            return JSONResponse({"messages": [], "poll_ms": POLL_MS}, headers=SECURITY_HEADERS)
        # The last message this chat will ever show: an id above any the page has seen (its own "JA" may already hold
        # after + 1, from the send's answer, and the page shows an id only once).
        message = {"id": FAREWELL_ID, "from": "bot", "text": farewell[0], "options": []}
        response = JSONResponse({"messages": [message], "poll_ms": POLL_MS, "ended": True}, headers=SECURITY_HEADERS)
        response.delete_cookie(self.cookie, path="/", secure=self.secure_cookie, httponly=True, samesite="strict")
        return response

    async def _flooded(self, what: str) -> None:
        """A refused request: counted; the first in a quarter of an hour is a security event and one staff alert."""
        self._refused += 1
        now = self._monotonic()
        if self._last_flood_alert is not None and now - self._last_flood_alert < FLOOD_ALERT_EVERY:
            return
        self._last_flood_alert = now
        log.warning("security event: web chat flood (%s); requests are being limited (%d refused so far)", what, self._refused)
        if self.on_flood is not None:
            await self.on_flood(what)

    async def _deliver(self, visitor: str, provider_id: str, content: Inbound, source: str | None = None) -> int | None:
        assert self._accept is not None
        result = await self._accept(InboundMessage("webchat", provider_id, visitor, content, source))
        return result.message_id

    def _identity_id(self, visitor: str) -> int | None:
        with self.sessions() as session:
            identity = find_identity(session, "webchat", visitor)
            return identity.id if identity else None

    def _lines(self, identity_id: int, after: int):  # type: ignore[no-untyped-def]
        with self.sessions() as session:
            return delivered_lines(session, identity_id, after)

    def _move(self, visitor: str, new_visitor: str) -> bool:
        with self.sessions.begin() as session:
            return move_identity(session, "webchat", visitor, new_visitor)

    def _store_code(self, visitor: str, code: str) -> bool:
        with self.sessions.begin() as session:
            return set_resume_code(session, "webchat", visitor, code)

    def _resume_as(self, code: str, visitor: str) -> bool:
        with self.sessions.begin() as session:
            return resume_identity(session, "webchat", code, visitor)

    def _visitor(self, request: Request) -> str | None:
        """The visitor id from the cookie, only when this server issued it (its signature holds)."""
        raw, _, signature = request.cookies.get(self.cookie, "").partition(".")
        if not RAW_ID.match(raw) or not hmac.compare_digest(signature.encode(), _signature(raw).encode()):
            return None
        return raw

    def _set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(self.cookie, value, max_age=COOKIE_DAYS * 24 * 3600, path="/", httponly=True, samesite="strict",
                            secure=self.secure_cookie)  # fmt: skip

    def _text(self, request: Request, key: str, **values: Any) -> str:
        return self.catalogue.text(_language(request), key, **values)

    def _error(self, request: Request, key: str, status: int) -> Response:
        return JSONResponse({"error": self._text(request, key)}, status_code=status, headers=SECURITY_HEADERS)

    def _sameorigin_of(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            return True  # old browsers send none on same-origin POSTs; SameSite=Strict still guards the cookie
        if self.origin is not None:
            return origin_of(origin) == self.origin
        return origin.split("://", 1)[-1] == request.headers.get("host", "")

    def _json_from_here(self, request: Request) -> bool:
        if not self._sameorigin_of(request):
            # Without the content: a refusal says that it happened and from where, never what was written.
            log.warning("webchat: refused a request from origin %s (expected %s)", origin_of(request.headers["origin"])[:100],
                        self.origin or "the Host header's")  # fmt: skip
            return False
        return request.headers.get("content-type", "").startswith("application/json")


def _issue() -> tuple[str, str]:
    """A new visitor id and the cookie value that carries it, signed."""
    raw = secrets.token_urlsafe(24)
    return raw, f"{raw}.{_signature(raw)}"


def _signature(raw: str) -> str:
    return active_keyring().lookup_hash("webchat-visitor-signature", raw)[:32]


def _keyed(visitor: str) -> str:
    return active_keyring().lookup_hash("webchat-visitor-key", visitor)


def _client_key(request: Request) -> str:
    return active_keyring().lookup_hash("webchat-client", request.client.host if request.client else "")


def _language(request: Request) -> str:
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "sv"


def _readable(text: str) -> bool:
    """False for text no UTF-8 can carry (a lone surrogate from a JSON escape such as "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _read_json(request: Request) -> dict[str, Any] | str:
    """The JSON object the page sent, or the catalogue key of what was wrong; never reads more than MAX_BODY."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return "webchat.too_large"
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return "webchat.too_large"
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # includes bad UTF-8 and integers too long to read
        return "webchat.not_read"
    return parsed if isinstance(parsed, dict) else "webchat.not_read"
