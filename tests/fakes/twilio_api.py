"""A stand-in Twilio Messages API on 127.0.0.1 that speaks the real wire format to twilio-python or `utvag run`."""

from __future__ import annotations

import asyncio
import base64
import copy
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from tests.fakes.server import LoopbackServer

JSON = dict[str, Any]
API_VERSION = "2010-04-01"
# What Twilio says for the codes tests script (https://www.twilio.com/docs/api/errors).
MESSAGES = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    30001: "Queue overflow",
    63016: "Failed to send freeform message because you are outside the allowed window. "
           "If you are using WhatsApp, please use a Message Template.",
}  # fmt: skip
CALLBACK_STEP = 0.05  # seconds between a message's status callbacks


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class _Failure:
    status: int
    code: int
    retry_after: float | None

    def response(self) -> JSONResponse:
        body = {"code": self.code, "message": MESSAGES.get(self.code, "Error"),
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}  # fmt: skip
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return JSONResponse(body, status_code=self.status, headers=headers)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)  # Twilio's dates: "Tue, 01 Dec 2026 10:00:00 +0000"-style


class FakeTwilioAPI(LoopbackServer):
    """One fake Twilio account: read what was sent, inject inbound messages, make Twilio misbehave on demand.

    `url` is the API base URL (twilio-python's `client.api.base_url`, UTVAG_TWILIO_API_URL)."""

    kind = "Twilio"

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.validator = RequestValidator(self.auth_token)
        self.callbacks_enabled = True
        self._lock = threading.RLock()  # the test thread scripts/reads while the server thread answers
        self._calls: list[JSON] = []
        self._sent: list[JSON] = []
        self._callbacks: list[JSON] = []
        self._failures: deque[_Failure] = deque()
        self._outcomes: deque[tuple[str | None, str, int | None]] = deque()  # (to or None, final status, error code)
        self._proxies: dict[str, str] = {}  # public URL prefix -> local URL prefix
        self._hanging: bool | None = None  # None: not hanging; else record before hanging?
        self._release = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(routes=[
            Route(f"/{API_VERSION}/Accounts/{{sid}}/Messages.json", self._create, methods=["POST"]),
            Route(f"/{API_VERSION}/Accounts/{{sid}}/Messages/{{message_sid}}.json", self._fetch, methods=["GET"]),
            Route(f"/{API_VERSION}/Accounts/{{sid}}.json", self._account, methods=["GET"]),
        ])  # fmt: skip

    def _on_start(self) -> None:
        self._release = asyncio.Event()

    def _on_stop(self) -> None:
        self._release.set()
        for task in self._tasks:
            task.cancel()

    # -- scripting ---------------------------------------------------------------------------------

    def fail_next(self, status: int = 429, code: int = 20429, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` create calls answer Twilio's JSON error (with Retry-After when given)."""
        with self._lock:
            self._failures.extend([_Failure(status, code, retry_after)] * times)

    def deliver_as(self, status: str, error_code: int | None = None, *, to: str | None = None) -> None:
        """The next accepted message (to `to`, if given) ends in `status` (delivered, undelivered, failed, read)."""
        with self._lock:
            self._outcomes.append((to, status, error_code))

    def proxy(self, public_url: str, local_url: str) -> None:
        """Status callbacks for `public_url…` are signed for it but posted to `local_url…` (a TLS proxy's job)."""
        with self._lock:
            self._proxies[public_url.rstrip("/")] = local_url.rstrip("/")

    def hang(self, record: bool = True) -> None:
        """Create calls never answer until unhang(); with record=True the message counts as sent first."""
        with self._lock:
            self._hanging = record

    def unhang(self) -> None:
        with self._lock:
            self._hanging = None
        self._in_loop(self._release_hung)

    def _release_hung(self) -> None:
        self._release.set()  # wakes everyone waiting on this event; later hangs wait on a fresh one
        self._release = asyncio.Event()

    # -- what the app did --------------------------------------------------------------------------

    def sent(self, to: str | None = None) -> list[JSON]:
        """Accepted messages, oldest first; `to` matches with or without the whatsapp: prefix."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._sent if to is None or to in (m["to"], m["to"].removeprefix("whatsapp:"))]

    def calls(self) -> list[JSON]:
        """Every create call, refused ones too: {"params", "status", "code"}."""
        with self._lock:
            return copy.deepcopy(self._calls)

    def callbacks(self) -> list[JSON]:
        """Status callbacks posted: {"url", "posted_to", "params", "status"} (status 0 when unreachable)."""
        with self._lock:
            return copy.deepcopy(self._callbacks)

    def wait_for(self, predicate: Callable[[FakeTwilioAPI], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                name = getattr(predicate, "__name__", repr(predicate))
                calls = [(c["params"].get("To"), c["status"], c["code"]) for c in self.calls()[-10:]]
                raise AssertionError(f"fake Twilio: {name} still false after {timeout}s; last calls {calls}")
            time.sleep(0.02)

    def wait_for_sent(self, to: str, count: int = 1, timeout: float = 10.0) -> list[JSON]:
        def sent_enough(api: FakeTwilioAPI) -> bool:
            return len(api.sent(to)) >= count

        sent_enough.__name__ = f"{count} message(s) sent to {to}"
        self.wait_for(sent_enough, timeout)
        return self.sent(to)

    # -- what Twilio does to the app ---------------------------------------------------------------

    def sign(self, url: str, params: dict[str, str]) -> str:
        return self.validator.compute_signature(url, params)

    def post_inbound(self, webhook_url: str, *, from_: str, to: str, body: str, message_sid: str | None = None,
                     public_url: str | None = None, extra: dict[str, str] | None = None,
                     signature: str | None = None) -> httpx.Response:  # fmt: skip
        """POST an incoming message as Twilio would, signed for the public URL while posted to the local one.

        signature=None signs correctly, "forged" sends a wrong one, "" sends none.
        """
        sid = message_sid or new_sid()
        params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": self.account_sid, "From": from_,
                  "To": to, "Body": body, "NumMedia": "0", "NumSegments": "1", "ApiVersion": API_VERSION,
                  "SmsStatus": "received", **(extra or {})}  # fmt: skip
        return self._post_signed(webhook_url, params, public_url, signature)

    def post_status(self, webhook_url: str, *, message_sid: str, status: str, error_code: int | None = None,
                    public_url: str | None = None, signature: str | None = None) -> httpx.Response:  # fmt: skip
        """POST one message status callback by hand (signed like post_inbound), e.g. a late or repeated one."""
        with self._lock:
            message = next((m for m in self._sent if m["sid"] == message_sid), None)
        params = self._status_params(message_sid, status, error_code, message)
        return self._post_signed(webhook_url, params, public_url, signature)

    def _post_signed(self, webhook_url: str, params: dict[str, str], public_url: str | None, signature: str | None) -> httpx.Response:
        parts = urlsplit(webhook_url)
        signed_url = (public_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")) if public_url else webhook_url
        if signature is None:
            signature = self.sign(signed_url, params)
        elif signature == "forged":
            signature = base64.b64encode(secrets.token_bytes(20)).decode()
        headers = {"X-Twilio-Signature": signature} if signature else {}
        headers["User-Agent"] = "TwilioProxy/1.1"
        with httpx.Client(timeout=10, trust_env=False) as client:
            return client.post(webhook_url, data=params, headers=headers)

    def _status_params(self, sid: str, status: str, error_code: int | None, message: JSON | None) -> dict[str, str]:
        params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
                  "AccountSid": self.account_sid, "ApiVersion": API_VERSION}  # fmt: skip
        if message is not None:
            params |= {"From": message["from"], "To": message["to"]}
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    # -- the HTTP side -----------------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (hmac.compare_digest(user, self.account_sid) and hmac.compare_digest(password, self.auth_token)
                and request.path_params["sid"] == self.account_sid)  # fmt: skip

    async def _create(self, request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        call: JSON = {"params": params, "status": 0, "code": None}
        with self._lock:
            self._calls.append(call)
            failure = self._refusal(request, params)
            hanging = self._hanging
        if failure is not None:
            with self._lock:
                call["status"], call["code"] = failure.status, failure.code
            return failure.response()
        if hanging is False:
            await self._hold()
        with self._lock:
            message = self._accept_message(params)
            call["status"] = 201
        if hanging:
            await self._hold()
        return JSONResponse(self._resource(message), status_code=201)

    def _refusal(self, request: Request, params: JSON) -> _Failure | None:
        if not self._authorised(request):
            return _Failure(401, 20003, None)
        if self._failures:
            return self._failures.popleft()
        if not params.get("To"):
            return _Failure(400, 21604, None)
        if not params.get("From"):
            return _Failure(400, 21603, None)
        if not params.get("Body") and not params.get("ContentSid") and not params.get("MediaUrl"):
            return _Failure(400, 21602, None)
        if len(params.get("Body", "")) > 1600:
            return _Failure(400, 21617, None)
        return None

    async def _hold(self) -> None:
        await self._release.wait()
        if self._closing:
            raise RuntimeError("fake Twilio is shutting down")

    def _accept_message(self, params: JSON) -> JSON:
        body = params.get("Body", "")
        now = datetime.now(UTC)
        to = params["To"]
        outcome = next((o for o in self._outcomes if o[0] is None or o[0] in (to, to.removeprefix("whatsapp:"))), None)
        if outcome is not None:
            self._outcomes.remove(outcome)
        final, error_code = (outcome[1], outcome[2]) if outcome else ("delivered", None)
        message = {
            "sid": new_sid(), "to": to, "from": params["From"], "body": body, "status": "queued",
            "status_callback": params.get("StatusCallback"), "content_sid": params.get("ContentSid"),
            "content_variables": params.get("ContentVariables"), "params": params, "date_created": now,
            "num_segments": _rough_segments(body), "final_status": final, "error_code": error_code,
        }  # fmt: skip
        self._sent.append(message)
        if message["status_callback"] and self.callbacks_enabled:
            self._schedule(self._report(message))
        return message

    def _resource(self, message: JSON) -> JSON:
        """The Message resource as Twilio answers it (https://www.twilio.com/docs/messaging/api/message-resource)."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message['sid']}.json"
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": message["body"],
            "date_created": _rfc2822(message["date_created"]), "date_sent": None,
            "date_updated": _rfc2822(message["date_created"]), "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": message["from"], "messaging_service_sid": None, "num_media": "0",
            "num_segments": str(message["num_segments"]), "price": None, "price_unit": "USD", "sid": message["sid"],
            "status": message["status"], "to": message["to"], "uri": uri,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        }  # fmt: skip

    async def _account(self, request: Request) -> Response:
        """The Account resource (https://www.twilio.com/docs/iam/api/account#fetch-an-account-resource)."""
        if not self._authorised(request):
            return _Failure(401, 20003, None).response()
        sid = self.account_sid
        return JSONResponse({"sid": sid, "owner_account_sid": sid, "friendly_name": "Utväg test", "status": "active", "type": "Full",
                             "auth_token": "", "date_created": "Mon, 30 Nov 2026 10:00:00 +0000",
                             "date_updated": "Mon, 30 Nov 2026 10:00:00 +0000", "uri": f"/{API_VERSION}/Accounts/{sid}.json",
                             "subresource_uris": {}})  # fmt: skip

    async def _fetch(self, request: Request) -> Response:
        if not self._authorised(request):
            return _Failure(401, 20003, None).response()
        with self._lock:
            message = next((m for m in self._sent if m["sid"] == request.path_params["message_sid"]), None)
            if message is None:
                body = {"code": 20404, "message": "The requested resource was not found", "more_info": "", "status": 404}
                return JSONResponse(body, status_code=404)
            return JSONResponse(self._resource(message))

    def _schedule(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, message: JSON) -> None:
        """Twilio's lifecycle callbacks for one message, each signed over the callback URL as given."""
        final = message["final_status"]
        steps = ["queued", final] if final == "failed" else ["queued", "sent", final]
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            for status in steps:
                await asyncio.sleep(CALLBACK_STEP)
                with self._lock:
                    message["status"] = status
                    error = message["error_code"] if status in ("failed", "undelivered") else None
                    params = self._status_params(message["sid"], status, error, message)
                url = message["status_callback"]
                target = self._local(url)
                headers = {"X-Twilio-Signature": self.sign(url, params), "User-Agent": "TwilioProxy/1.1"}
                try:
                    code = (await client.post(target, data=params, headers=headers)).status_code
                except httpx.HTTPError:
                    code = 0
                with self._lock:
                    self._callbacks.append({"url": url, "posted_to": target, "params": params, "status": code})

    def _local(self, url: str) -> str:
        with self._lock:
            for public, local in self._proxies.items():
                if url.startswith(public):
                    return local + url[len(public) :]
        return url


def _rough_segments(body: str) -> int:
    # Good enough for the resource's num_segments; the app's own count is what tests check.
    single, part = (160, 153) if all(ord(c) < 0x250 or c == "€" for c in body) else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // part)
