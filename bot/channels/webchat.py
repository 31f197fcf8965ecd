"""The web chat: a plain page, a random id in a cookie, and a small JSON API over the same engine."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import uuid
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot.channels.base import Accept, ChannelInfo, InboundMessage, Outbound
from bot.web import origin_of
from handlers.turn import Inbound
from storage.contacts import find_identity
from storage.transcript import delivered_lines

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "webchat_static"
STATIC_FILES = {"chat.js": "text/javascript", "chat.css": "text/css"}
MAX_TEXT = 4000
SOURCE_TAG = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
SOURCE_COOKIE = "utvag_src"
POLL_MS = 1500
FIRST_WAIT_STEPS = 15
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
TOO_LONG = {
    "sv": "Meddelandet är för långt. Skriv högst 4000 tecken, eller dela upp det.",
    "en": "The message is too long. Write at most 4000 characters, or split it up.",
}


class WebChatChannel:
    name = "webchat"

    def __init__(self, sessions: sessionmaker[Session], *, secure_cookie: bool = False, public_url: str | None = None) -> None:
        self.sessions = sessions
        # Behind a proxy the Host header is the proxy's upstream (127.0.0.1:8080), never what the browser saw: with a
        # public URL, a send's Origin is compared with it.
        self.origin = origin_of(public_url) if public_url else None
        self.secure_cookie = secure_cookie
        self.cookie = "__Host-utvag_chat" if secure_cookie else "utvag_chat"
        self._accept: Accept | None = None
        self.info = ChannelInfo(
            idempotent_send=True,
            routes=[
                Route("/chat", self._page, methods=["GET"]),
                Route("/chat/static/{name}", self._static, methods=["GET"]),
                Route("/chat/api/messages", self._messages, methods=["GET"]),
                Route("/chat/api/send", self._send, methods=["POST"]),
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
        # The reply is already stored in the transcript; marking it sent makes it visible to the page.
        return None

    async def _page(self, request: Request) -> Response:
        response = FileResponse(STATIC / "chat.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)
        if not self._visitor(request):
            self._set_cookie(response, secrets.token_urlsafe(24))
            tag = request.query_params.get("k", "")
            if SOURCE_TAG.match(tag):  # which poster or card brought them: a campaign name, nothing about them
                response.set_cookie(SOURCE_COOKIE, tag, max_age=3600, path="/", httponly=True, samesite="strict",
                                    secure=self.secure_cookie)  # fmt: skip
        return response

    async def _static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response(status_code=404)
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers=SECURITY_HEADERS)

    async def _messages(self, request: Request) -> Response:
        visitor = self._visitor(request)
        if not visitor:
            return JSONResponse({"messages": [], "poll_ms": POLL_MS}, headers=SECURITY_HEADERS)
        try:
            after = max(0, int(request.query_params.get("after", "0")))
        except ValueError:
            after = 0
        identity_id = await asyncio.to_thread(self._identity_id, visitor)
        if identity_id is None:
            # A first visit: start the conversation so the greeting is waiting for them.
            tag = request.cookies.get(SOURCE_COOKIE, "")
            source = tag if SOURCE_TAG.match(tag) else None
            await self._deliver(visitor, f"start:{visitor}", Inbound(kind="start", text="/start"), source)
            identity_id = await asyncio.to_thread(self._identity_id, visitor)
        lines = await asyncio.to_thread(self._lines, identity_id, after) if identity_id else []
        for _ in range(FIRST_WAIT_STEPS if after == 0 and not lines and identity_id else 0):
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
        return JSONResponse({"messages": payload, "poll_ms": POLL_MS}, headers=SECURITY_HEADERS)

    async def _send(self, request: Request) -> Response:
        if not self._sameorigin_of(request):
            # Without the content: a refusal says that it happened and from where, never what was written.
            log.warning("webchat: refused a send from origin %s (expected %s)", origin_of(request.headers["origin"])[:100],
                        self.origin or "the Host header's")  # fmt: skip
            return JSONResponse({"error": "Sidan kunde inte skicka meddelandet. Ladda om sidan."}, status_code=400)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"error": "Sidan kunde inte skicka meddelandet. Ladda om sidan."}, status_code=400)
        visitor = self._visitor(request)
        if not visitor:
            return JSONResponse({"error": "Ladda om sidan och försök igen. Reload the page and try again."}, status_code=400)
        try:
            body = await request.json()
            text = str(body.get("text") or "")
            choice = body.get("choice")
        except Exception:
            return JSONResponse({"error": "Meddelandet kunde inte läsas. Försök igen."}, status_code=400)
        if len(text) > MAX_TEXT:
            language = "en" if request.headers.get("accept-language", "").startswith("en") else "sv"
            return JSONResponse({"error": TOO_LONG[language]}, status_code=413)
        content = Inbound(kind="choice", choice=str(choice)[:64], text=text) if choice else Inbound(kind="text", text=text)
        accepted = await self._deliver(visitor, uuid.uuid4().hex, content)
        return JSONResponse({"id": accepted}, status_code=202, headers=SECURITY_HEADERS)

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

    def _visitor(self, request: Request) -> str | None:
        value = request.cookies.get(self.cookie, "")
        return value if 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum() else None

    def _set_cookie(self, response: Response, value: str) -> None:
        response.set_cookie(
            self.cookie, value, max_age=90 * 24 * 3600, path="/", httponly=True, samesite="strict", secure=self.secure_cookie
        )


    def _sameorigin_of(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            return True  # old browsers send none on same-origin POSTs; SameSite=Strict still guards the cookie
        if self.origin is not None:
            return origin_of(origin) == self.origin
        return origin.split("://", 1)[-1] == request.headers.get("host", "")

