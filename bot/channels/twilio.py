"""SMS and WhatsApp through Twilio: signed webhooks in, the Messages REST resource out, delivery status back.

Durability: an inbound message is answered (empty TwiML, 200) only after it is committed; a failure answers
500 and Twilio delivers it again, and the engine's unique (channel, provider id) drops the repeat.
Sending uses twilio's synchronous `Client` in `asyncio.to_thread`: the async client needs aiohttp and its
own session lifecycle, and neither it nor the sync client exposes a 429's Retry-After header on the
exception, which a thin `TwilioHttpClient` subclass below can record per thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import requests
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import Accept, ChannelInfo, InboundMessage, Outbound, PermanentSendError, TransientSendError, UncertainSendError
from bot.channels.pacing import Admission, FloodGuard, Pacer, SenderBusy
from bot.channels.sms import render_sms, segments
from handlers.turn import Inbound
from storage.contacts import canonical_address, find_identity
from storage.db import describe_error
from storage.models import Contact, OutboxItem

log = logging.getLogger(__name__)

INBOUND_PATH = "/twilio/sms"
STATUS_PATH = "/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_FORM_BYTES = 64 * 1024  # a Twilio form is a few kilobytes; refuse anything that could only be abuse
REQUEST_TIMEOUT = 20.0  # seconds; with the pacer's max wait it stays under the dispatcher's 120 s stale limit
# Twilio can report a status before the dispatcher has stored the sid it got back: wait this long for the row.
STATUS_WAIT_STEPS, STATUS_WAIT_STEP = 10, 0.2
WHATSAPP = "whatsapp:"
WHATSAPP_WINDOW = timedelta(hours=24)
# Twilio checks the window when it sends, not when we ask: a margin keeps a message written at 23:59 from
# failing with 63016 a moment later (it goes as the template instead).
WINDOW_MARGIN = timedelta(minutes=10)

# Delivery states in the order they can happen; a callback never moves a row back, and the last rank is final.
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
STATUS_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3, "undelivered": 3, "failed": 3, "read": 3, "canceled": 3,
}  # fmt: skip
FINAL_RANK = 3
UNDELIVERED = {"failed", "undelivered"}

# Twilio error codes: https://www.twilio.com/docs/api/errors
RATE_LIMITED = 20429
UNSUBSCRIBED = 21610
QUEUE_OVERFLOW = {21611, 30001}
BODY_TOO_LONG = 21617
OUTSIDE_WINDOW = 63016
UNAUTHORIZED = 20003

OnUndelivered = Callable[[int], Awaitable[None] | None]


def _nothing(_outbox_item_id: int) -> None:
    return None


class _HeaderRecordingHttpClient(TwilioHttpClient):
    """twilio's HTTP client, remembering the last response's Retry-After for the thread that asked."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> TwilioResponse:
        self._local.retry_after = None
        leaving = getattr(self._local, "leaving", None)
        if leaving is not None:  # the request goes now: as late as we can tell the pacer so
            self._local.leaving = None
            leaving()
        response = super().request(*args, **kwargs)
        self._local.retry_after = _seconds(response.headers.get("Retry-After") if response.headers else None)
        return response

    @property
    def retry_after(self) -> float | None:
        return getattr(self._local, "retry_after", None)


class _Refused(Exception):
    """A send Twilio answered with an error: the HTTP status, Twilio's code and any Retry-After."""

    def __init__(self, status: int, code: int | None, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}, Twilio error {code}")
        self.status, self.code, self.retry_after = status, code, retry_after


class TwilioChannel:
    """One adapter for both Twilio channels; the runtime registers it under each name in `names`."""

    name = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        sessions: sessionmaker[Session],
        public_url: str,
        api_url: str = "https://api.twilio.com",
        sms_from: str | None = None,
        whatsapp_from: str | None = None,
        whatsapp_template_sid: str | None = None,
        whatsapp_template_variables: dict[str, str] | None = None,
        on_undelivered: OnUndelivered = _nothing,
        segments_per_second: float = 1.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        pacer: Pacer | None = None,
        flood_guard: FloodGuard | None = None,
    ) -> None:
        if not sms_from and not whatsapp_from:
            raise ValueError("TwilioChannel needs an SMS or a WhatsApp sender")
        self.sessions = sessions
        self.public_url = public_url.rstrip("/")
        self.sms_from = sms_from
        self.whatsapp_from = _whatsapp(whatsapp_from) if whatsapp_from else None
        self.whatsapp_template_sid = whatsapp_template_sid
        self.whatsapp_template_variables = whatsapp_template_variables or {}
        self.on_undelivered = on_undelivered
        self.now = now
        self.status_wait = (STATUS_WAIT_STEPS, STATUS_WAIT_STEP)
        self.names = [name for name, sender in (("sms", sms_from), ("whatsapp", whatsapp_from)) if sender]
        self.name = self.names[0]
        self.validator = RequestValidator(auth_token)
        self._http = _HeaderRecordingHttpClient(REQUEST_TIMEOUT)
        self.client = Client(account_sid, auth_token, http_client=self._http)
        # Client() reads TWILIO_EDGE / TWILIO_REGION from the environment and would then rewrite every
        # host name (api.<edge>.<region>.twilio.com), breaking a configured API URL: pin both to none.
        self.client.edge = self.client.region = None
        self.client.api.base_url = api_url.rstrip("/")
        self.pacer = pacer or Pacer(segments_per_second)
        self._admissions: dict[int, Admission] = {}  # by id() of the Outbound between pace() and send()
        self.flood_guard = flood_guard or FloodGuard()
        self._flood_key = secrets.token_bytes(16)  # numbers are kept in memory only as keyed hashes
        self._accept: Accept | None = None
        self.info = ChannelInfo(
            routes=[
                Route(INBOUND_PATH, self._inbound, methods=["POST"]),
                Route(STATUS_PATH, self._status, methods=["POST"]),
            ]
        )

    # -- lifecycle (the runtime may call these once per registered name) ---------------------------------

    async def start(self, accept: Accept) -> None:
        if self._accept is None:
            # twilio imports its resource classes on first use (~0.1 s here): done now, not inside the first sends,
            # where it delays requests the pacer has already counted.
            await asyncio.to_thread(lambda: self.client.messages)
            log.info("twilio: %s ready", " and ".join(self.names))
        self._accept = accept

    async def stop(self) -> None:
        return None

    def flooding(self, address: str) -> bool:
        """True while this sender is in a flood episode (so a caller may choose not to answer each message)."""
        return self.flood_guard.flooding(self._flood_id(address))

    # -- inbound -------------------------------------------------------------------------------------------

    async def _inbound(self, request: Request) -> Response:
        params = await self._verified_form(request)
        if params is None:
            return PlainTextResponse("forbidden", status_code=403)
        inbound = parse_inbound(params)
        if inbound is None:
            return PlainTextResponse("not a message", status_code=400)
        try:
            canonical_address(inbound.channel, inbound.address)
        except ValueError:
            # A short code or alphanumeric sender (a carrier notice, not a person): nothing to store or answer.
            log.info("twilio: ignored an inbound message from a sender that is not a phone number")
            return Response(EMPTY_TWIML, media_type="text/xml")
        assert self._accept is not None
        try:
            accepted = await self._accept(inbound)
        except Exception as exc:
            # 500 makes Twilio deliver it again; the type alone, as an exception text can quote parameters.
            log.error("twilio: storing an inbound message failed (%s); Twilio will retry", describe_error(exc))
            return PlainTextResponse("try again", status_code=500)
        if not accepted.duplicate:
            episode = self.flood_guard.hit(self._flood_id(inbound.address))
            if episode is not None:
                log.warning("security: message flood from one sender (%s messages in %s s)", episode[0], round(episode[1]))
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def _status(self, request: Request) -> Response:
        params = await self._verified_form(request)
        if params is None:
            return PlainTextResponse("forbidden", status_code=403)
        update_ = parse_status(params)
        if update_ is None:
            return Response(status_code=204)
        sid, status, error_code = update_
        changed = await asyncio.to_thread(self._record_status, sid, status, error_code)
        if changed is None:
            for _ in range(self.status_wait[0]):
                await asyncio.sleep(self.status_wait[1])
                changed = await asyncio.to_thread(self._record_status, sid, status, error_code)
                if changed is not None:
                    break
        if changed and status in UNDELIVERED:
            try:
                result = self.on_undelivered(changed)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("twilio: the undelivered-message callback failed for outbox item %s", changed)
        return Response(status_code=204)

    def _record_status(self, sid: str, status: str, error_code: str | None) -> int | None:
        """Move a row's delivery status forward; the row id when it changed, 0 when not, None when unknown."""
        rank = STATUS_RANK[status]
        lower = [name for name, other in STATUS_RANK.items() if other < rank]
        with self.sessions.begin() as session:
            item_id = session.scalar(select(OutboxItem.id).where(OutboxItem.provider_message_id == sid).limit(1))
            if item_id is None:
                return None
            values: dict[str, Any] = {"delivery_status": status}
            if status in UNDELIVERED:
                values["error"] = f"{status} (Twilio error {error_code})" if error_code else status
            # A conditional update, not read-then-write: two callbacks racing still never move it back.
            changed = session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id,
                       or_(OutboxItem.delivery_status.is_(None), OutboxItem.delivery_status.in_(lower)))
                .values(**values)
            ).rowcount  # fmt: skip
        return item_id if changed == 1 else 0

    async def _verified_form(self, request: Request) -> MultiDict | None:
        """The form Twilio posted, or None when the signature is missing or wrong (or the body is not a form)."""
        signature = request.headers.get("x-twilio-signature", "")
        if not signature:
            log.warning("twilio: refused a request without a signature")
            return None
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                log.warning("twilio: refused an oversized request")
                return None
        content_type = request.headers.get("content-type", "")
        params = MultiDict()
        if content_type.startswith("application/x-www-form-urlencoded"):
            try:
                params = MultiDict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                return None
        url = self.public_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # Signed over the public URL: behind a TLS-terminating proxy the URL we were called on is not Twilio's.
        if not self.validator.validate(url, params, signature):
            log.warning("twilio: refused a request with an invalid signature")
            return None
        return params

    def _flood_id(self, address: str) -> str:
        number = address[len(WHATSAPP) :] if address.startswith(WHATSAPP) else address
        return hashlib.blake2b(number.strip().encode(), key=self._flood_key, digest_size=16).hexdigest()

    # -- outbound ------------------------------------------------------------------------------------------

    async def pace(self, message: Outbound) -> None:
        """Wait for the sender's pace, counted in segments (WhatsApp: one per message), replies first."""
        whatsapp = message.channel == "whatsapp"
        sender = self.whatsapp_from if whatsapp else self.sms_from
        if not sender:
            return  # send() says why it cannot go
        units = 1 if whatsapp else segments(render_sms(message.text, message.options))
        try:
            self._admissions[id(message)] = await self.pacer.acquire(sender, units, message.lane, message.urgent)
        except SenderBusy as exc:
            raise TransientSendError("the sender's queue is full", retry_after=exc.retry_after) from exc

    def unpace(self, message: Outbound) -> None:
        self._admissions.pop(id(message), None)  # its place in the window frees itself within a second

    async def send(self, message: Outbound) -> str | None:
        whatsapp = message.channel == "whatsapp"
        sender = self.whatsapp_from if whatsapp else self.sms_from
        if not sender:
            raise PermanentSendError(f"no Twilio sender configured for {message.channel}")
        address = message.address[len(WHATSAPP) :] if message.address.startswith(WHATSAPP) else message.address
        try:
            address = canonical_address(message.channel, address)
        except ValueError:
            raise PermanentSendError("the address is not a phone number") from None
        params: dict[str, Any] = {
            "to": WHATSAPP + address if whatsapp else address,
            "from_": sender,
            "status_callback": self.public_url + STATUS_PATH,
        }
        if whatsapp and not await asyncio.to_thread(self._within_window, address):
            if not self.whatsapp_template_sid:
                raise PermanentSendError("outside WhatsApp's 24-hour window and no template configured")
            params["content_sid"] = self.whatsapp_template_sid
            params["content_variables"] = json.dumps(self.whatsapp_template_variables)
        else:
            params["body"] = render_sms(message.text, message.options)
        admission = self._admissions.pop(id(message), None)
        try:
            return await asyncio.to_thread(self._create, params, admission)
        except _Refused as exc:
            raise await self._classify(exc, message, address, sender) from exc

    def _create(self, params: dict[str, Any], admission: Admission | None = None) -> str:
        """One Messages API call, in a worker thread; Twilio's answers become _Refused or TransientSendError."""
        if admission is not None:
            # Counted from when the request leaves, not from when it was let go: at the HTTP call, after twilio has
            # built it, since threads contending for the interpreter can take tens of milliseconds over that.
            self._http._local.leaving = lambda: self.pacer.restamp(admission)
        try:
            created = self.client.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            if admission is not None:
                self.pacer.answered(admission)
            code = exc.code if isinstance(exc.code, int) else None
            raise _Refused(exc.status, code, self._http.retry_after) from None  # its text can quote the number
        except (requests.ConnectionError, requests.ConnectTimeout) as exc:
            # The request never reached Twilio: safe to try again.
            raise TransientSendError(f"network: {type(exc).__name__}") from None
        except (requests.RequestException, TwilioException) as exc:
            # It may have reached Twilio (a read timeout, a garbled answer): never send it twice.
            raise UncertainSendError(f"no clear answer from Twilio: {type(exc).__name__}") from None
        if admission is not None:
            self.pacer.answered(admission)
        if not created.sid:
            raise UncertainSendError("Twilio answered without a message sid")
        return created.sid

    async def _classify(self, exc: _Refused, message: Outbound, address: str, sender: str) -> Exception:
        code = exc.code
        if exc.status == 429 or code == RATE_LIMITED:
            # No Retry-After means none: the outbox backs off exponentially with jitter.
            return TransientSendError("rate limited by Twilio", retry_after=exc.retry_after, rate_limited=True)
        if code in QUEUE_OVERFLOW:
            self.pacer.slow_bulk(sender)
            return TransientSendError(f"Twilio's queue for the sender is full (error {code})", retry_after=exc.retry_after)
        if code == UNSUBSCRIBED:
            await asyncio.to_thread(self._mark_stopped, message.channel, address)
            return PermanentSendError("the person has unsubscribed (STOP) at Twilio")
        if code == OUTSIDE_WINDOW:
            return PermanentSendError("outside the 24-hour window")
        if code == BODY_TOO_LONG:
            return PermanentSendError("body too long for Twilio (over 1600 characters)")
        if exc.status >= 500:
            return TransientSendError(f"Twilio server error {exc.status}")
        if exc.status == 401 or code == UNAUTHORIZED:
            # Our credentials, not the message: keep it and retry, as the Telegram adapter does with a bad token.
            return TransientSendError("Twilio refused the credentials")
        return PermanentSendError(f"refused by Twilio: HTTP {exc.status}, error {code}")

    def _within_window(self, address: str) -> bool:
        with self.sessions() as session:
            identity = find_identity(session, "whatsapp", address)
            last = identity.last_inbound_at if identity else None
        return last is not None and self.now() - last < WHATSAPP_WINDOW - WINDOW_MARGIN

    def _mark_stopped(self, channel: str, address: str) -> None:
        with self.sessions.begin() as session:
            identity = find_identity(session, channel, address)
            if identity is None:
                return
            session.execute(
                update(Contact).where(Contact.id == identity.contact_id, Contact.stopped_at.is_(None)).values(stopped_at=self.now())
            )
        log.info("twilio: a recipient has unsubscribed; their contact is marked stopped")


def parse_inbound(params: Mapping[str, str]) -> InboundMessage | None:
    """Twilio's incoming-message webhook as an InboundMessage; SMS and WhatsApp share the format.

    https://www.twilio.com/docs/messaging/guides/webhook-request
    """
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    sender = (params.get("From") or "").strip()
    if not sid or not sender:
        return None
    channel, address = ("whatsapp", sender[len(WHATSAPP) :]) if sender.startswith(WHATSAPP) else ("sms", sender)
    body = params.get("Body") or ""
    if not body.strip() and _int(params.get("NumMedia")) > 0:
        content = Inbound(kind="media", media="mms")
    elif not body.strip() and params.get("Latitude") and params.get("Longitude"):
        content = Inbound(kind="media", media="location")  # a WhatsApp location pin: never stored as text
    else:
        content = Inbound(kind="text", text=body)
    return InboundMessage(channel, sid, address, content)


def parse_status(params: Mapping[str, str]) -> tuple[str, str, str | None] | None:
    """A message status callback as (MessageSid, status, ErrorCode); None when it names no known status.

    https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
    """
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
    if not sid or status not in STATUS_RANK:
        return None
    return sid, status, (params.get("ErrorCode") or None)


def _whatsapp(sender: str) -> str:
    return sender if sender.startswith(WHATSAPP) else WHATSAPP + sender


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP-date Retry-After: Twilio sends seconds; fall back to our own back-off
