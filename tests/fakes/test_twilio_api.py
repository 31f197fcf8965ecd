"""The fake Twilio Messages API, proven against the real twilio-python client and its RequestValidator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes.twilio_api import FakeTwilioAPI

TO, FROM = "+46701234567", "+46700000000"


@pytest.fixture
def fake() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as api:
        yield api


def client(fake: FakeTwilioAPI, token: str | None = None) -> Client:
    c = Client(fake.account_sid, token or fake.auth_token)
    c.api.base_url = fake.url
    return c


class Receiver:
    """A tiny webhook server recording what it is sent, to see callbacks as an app would."""

    def __init__(self) -> None:
        received: list[tuple[str, dict[str, str], str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                received.append((self.path, dict(parse_qsl(body, keep_blank_values=True)), self.headers.get("X-Twilio-Signature", "")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_create_a_message(fake: FakeTwilioAPI) -> None:
    message = client(fake).messages.create(to=TO, from_=FROM, body="Hej", status_callback="https://example.se/twilio/status")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued" and message.to == TO and message.date_created is not None
    (sent,) = fake.sent(TO)
    assert sent["sid"] == message.sid and sent["body"] == "Hej" and sent["status_callback"] == "https://example.se/twilio/status"
    assert client(fake).messages(message.sid).fetch().sid == message.sid


def test_a_template_has_content_and_no_body(fake: FakeTwilioAPI) -> None:
    client(fake).messages.create(to=f"whatsapp:{TO}", from_=f"whatsapp:{FROM}", content_sid="HX" + "0" * 32,
                                 content_variables='{"1": "Utväg"}')  # fmt: skip
    (sent,) = fake.sent(TO)
    assert sent["to"] == f"whatsapp:{TO}" and sent["content_sid"].startswith("HX") and "Body" not in sent["params"]


def test_wrong_credentials_get_twilios_401(fake: FakeTwilioAPI) -> None:
    with pytest.raises(TwilioRestException) as error:
        client(fake, token="wrong").messages.create(to=TO, from_=FROM, body="x")
    assert error.value.status == 401 and error.value.code == 20003
    assert fake.sent() == []


def test_a_429_raises_with_code_20429_and_is_not_retried_by_the_client(fake: FakeTwilioAPI) -> None:
    fake.fail_next(status=429, code=20429, retry_after=3)
    with pytest.raises(TwilioRestException) as error:
        client(fake).messages.create(to=TO, from_=FROM, body="x")
    assert error.value.status == 429 and error.value.code == 20429
    assert [call["status"] for call in fake.calls()] == [429]
    client(fake).messages.create(to=TO, from_=FROM, body="x")
    assert len(fake.sent(TO)) == 1


@pytest.mark.parametrize(("status", "code"), [(400, 21610), (400, 21611), (429, 30001), (400, 63016), (500, 20500)])
def test_scripted_failures_carry_twilios_code(fake: FakeTwilioAPI, status: int, code: int) -> None:
    fake.fail_next(status=status, code=code)
    with pytest.raises(TwilioRestException) as error:
        client(fake).messages.create(to=TO, from_=FROM, body="x")
    assert (error.value.status, error.value.code) == (status, code)


def test_a_long_body_is_refused_with_21617(fake: FakeTwilioAPI) -> None:
    with pytest.raises(TwilioRestException) as error:
        client(fake).messages.create(to=TO, from_=FROM, body="x" * 1601)
    assert error.value.code == 21617


def test_status_callbacks_arrive_signed_in_order(fake: FakeTwilioAPI, receiver: Receiver) -> None:
    url = "https://utvag.example.se/twilio/status"
    fake.proxy("https://utvag.example.se", receiver.url)
    sid = client(fake).messages.create(to=TO, from_=FROM, body="x", status_callback=url).sid
    fake.wait_for(lambda api: len(api.callbacks()) == 3)
    validator = RequestValidator(fake.auth_token)
    assert [params["MessageStatus"] for _, params, _ in receiver.received] == ["queued", "sent", "delivered"]
    for path, params, signature in receiver.received:
        assert path == "/twilio/status" and params["MessageSid"] == sid
        assert validator.validate(url, params, signature)  # signed for the public URL, posted to the local one
        assert not validator.validate(receiver.url + path, params, signature)


def test_deliver_as_scripts_a_failure(fake: FakeTwilioAPI, receiver: Receiver) -> None:
    fake.deliver_as("undelivered", error_code=30003, to=TO)
    client(fake).messages.create(to="+46709999999", from_=FROM, body="x", status_callback=receiver.url + "/s")
    client(fake).messages.create(to=TO, from_=FROM, body="x", status_callback=receiver.url + "/s")
    fake.wait_for(lambda api: len(api.callbacks()) == 6)
    finals = {params["To"]: (params["MessageStatus"], params.get("ErrorCode")) for _, params, _ in receiver.received}
    assert finals == {"+46709999999": ("delivered", None), TO: ("undelivered", "30003")}


def test_hang_holds_the_answer_until_unhang(fake: FakeTwilioAPI) -> None:
    fake.hang(record=True)
    done: list[str] = []
    thread = threading.Thread(target=lambda: done.append(client(fake).messages.create(to=TO, from_=FROM, body="x").sid))
    thread.start()
    fake.wait_for_sent(TO, 1)
    assert done == []
    fake.unhang()
    thread.join(timeout=5)
    assert done == [fake.sent(TO)[0]["sid"]]


def test_post_inbound_signs_for_the_public_url(fake: FakeTwilioAPI, receiver: Receiver) -> None:
    validator = RequestValidator(fake.auth_token)
    for signature in (None, "forged", ""):
        fake.post_inbound(receiver.url + "/twilio/sms", from_=TO, to=FROM, body="hej", public_url="https://utvag.example.se",
                          signature=signature)  # fmt: skip
    (good, forged, missing) = receiver.received
    assert good[1]["Body"] == "hej" and good[1]["NumMedia"] == "0" and good[1]["MessageSid"].startswith("SM")
    assert validator.validate("https://utvag.example.se/twilio/sms", good[1], good[2])
    assert forged[2] and not validator.validate("https://utvag.example.se/twilio/sms", forged[1], forged[2])
    assert missing[2] == ""
