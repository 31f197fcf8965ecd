"""End to end through the real Telegram channel: a person, the staff group, and a clock the test moves."""

import pytest
from sqlalchemy import create_engine, func, select, text

from storage.models import AuditEvent, Contact, OutboxItem
from storage.staff import add_staff
from tests.fakes.telegram_api import FakeBotAPI
from tests.live import STAFF_CHAT, LiveBot

pytestmark = pytest.mark.e2e  # starts the Runtime or `utvag`: CI runs it again under shifted clocks

PERSON = 4242
SARA, OMAR = 111, 222


@pytest.fixture
def live(tmp_path, keys, clock):
    with FakeBotAPI() as api, LiveBot(tmp_path, keys, api, clock) as bot:
        with bot.runtime.sessions.begin() as session:
            add_staff(session, name="Sara", role="lead", now=clock.now(), telegram_id=str(SARA), signoff="Sara")
            add_staff(session, name="Omar", role="staff", now=clock.now(), telegram_id=str(OMAR))
        yield bot


def press(api: FakeBotAPI, chat: int, label: str, at_least: int) -> list[dict]:
    """Wait for the bot's message with this button, press it, and return what the chat has had so far."""
    sent = api.wait_for_sent(chat, at_least)
    for message in reversed(sent):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == label:
                    api.inject_callback(chat, button["callback_data"], message_id=message["message_id"])
                    return sent
    raise AssertionError(f"no button {label!r} in {[m['text'][:40] for m in sent]}")


def test_an_application_on_telegram_reaches_staff_who_claim_and_answer(live):
    api = live.api
    api.inject_message(PERSON, "/start")
    press(api, PERSON, "Svenska", 1)
    press(api, PERSON, "Ansök om stöd", 4)
    press(api, PERSON, "Mig själv", 5)
    press(api, PERSON, "Ja", 6)
    press(api, PERSON, "Skulder", 7)
    press(api, PERSON, "Klar", 8)
    press(api, PERSON, "Skicka", 9)
    received = api.wait_for_sent(PERSON, 11)
    assert received[9]["text"].startswith("Tack. Din ansökan är mottagen.")
    assert received[10]["text"].startswith("Vill du något mer?")  # the way on, never a dead end
    (alert,) = api.wait_for_sent(STAFF_CHAT, 1)
    assert alert["text"].startswith("Ny ansökan K-") and str(PERSON) not in alert["text"]
    code = alert["text"].split()[2].rstrip(":")
    api.inject_callback(STAFF_CHAT, f"claim:{code}", message_id=alert["message_id"], from_user=SARA)
    api.wait_for(lambda fake: any(m["text"] == f"Sara tog {code}." for m in fake.sent(STAFF_CHAT)))
    api.inject_group_message(STAFF_CHAT, SARA, "Hej! Vi kan ses på torsdag kl 14.", reply_to_message_id=alert["message_id"])
    answer = api.wait_for_sent(PERSON, 12)[11]["text"]
    assert answer == "Hej! Vi kan ses på torsdag kl 14.\n- Sara, SIG"
    api.inject_message(PERSON, "Det passar bra")
    api.wait_for(lambda fake: any("skriver" in m["text"] and "Det passar bra" in m["text"] for m in fake.sent(STAFF_CHAT)))


def test_danger_mid_intake_alerts_at_once_and_escalates_until_acknowledged(live):
    api = live.api
    api.inject_message(PERSON, "/start")
    press(api, PERSON, "Svenska", 1)
    press(api, PERSON, "Ansök om stöd", 4)
    api.wait_for_sent(PERSON, 5)
    api.inject_message(PERSON, "de hotar att döda mig")
    danger = api.wait_for_sent(PERSON, 6)
    assert danger[5]["text"].startswith("Är du i fara just nu? Ring 112.")
    (alert,) = api.wait_for_sent(STAFF_CHAT, 1)
    assert alert["text"].startswith("AKUT K-")
    code = alert["text"].split()[1].rstrip(":")
    assert live.tick(minutes=6)["escalated"] == 1
    api.wait_for_sent(STAFF_CHAT, 2)
    assert api.sent(STAFF_CHAT)[1]["text"].startswith(f"AKUT {code} har väntat utan svar")
    api.inject_callback(STAFF_CHAT, f"ack:{code}", message_id=alert["message_id"], from_user=OMAR)
    api.wait_for(lambda fake: any(m["text"] == f"Omar tar det akuta ärendet {code}." for m in fake.sent(STAFF_CHAT)))
    assert live.tick(minutes=30)["escalated"] == 0
    press(api, PERSON, "Mig själv", 6)  # the person carries on with the intake
    assert api.wait_for_sent(PERSON, 7)[6]["text"].startswith("Är du 18-29 år")


def test_two_staff_pressing_claim_at_once_one_wins(live):
    api = live.api
    api.inject_message(PERSON, "/start")
    press(api, PERSON, "Svenska", 1)
    api.wait_for_sent(PERSON, 4)
    api.inject_message(PERSON, "fråga")
    api.wait_for_sent(PERSON, 5)
    api.inject_message(PERSON, "Hur lång tid tar det?")
    (alert,) = api.wait_for_sent(STAFF_CHAT, 1)
    code = alert["text"].split()[2].rstrip(":")
    api.inject_callback(STAFF_CHAT, f"claim:{code}", message_id=alert["message_id"], from_user=SARA)
    api.inject_callback(STAFF_CHAT, f"claim:{code}", message_id=alert["message_id"], from_user=OMAR)
    api.wait_for(lambda fake: any("redan taget" in m["text"] for m in fake.sent(STAFF_CHAT)))
    texts = [m["text"] for m in api.sent(STAFF_CHAT)]
    assert sum(t.endswith(f"tog {code}.") for t in texts) == 1
    assert sum("är redan taget av" in t for t in texts) == 1


def test_someone_outside_the_team_is_refused_in_the_group(live):
    live.api.inject_group_message(STAFF_CHAT, 999, "/ko")
    (refusal,) = live.api.wait_for_sent(STAFF_CHAT, 1)
    assert "inte registrerad som personal" in refusal["text"]


def test_a_call_request_with_the_share_button_then_a_reminder(live):
    api = live.api
    api.inject_message(PERSON, "/start")
    press(api, PERSON, "Svenska", 1)
    press(api, PERSON, "Bli uppringd", 4)
    press(api, PERSON, "tisdag 1 december kl. 13–15", 5)
    share = api.wait_for_sent(PERSON, 6)[5]
    assert share["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    api.inject_contact(PERSON, "+46701234567")
    assert api.wait_for_sent(PERSON, 7)[6]["text"].startswith("Klart! Vi ringer dig tisdag 1 december kl. 13–15.")
    (alert,) = api.wait_for_sent(STAFF_CHAT, 1)
    assert "46701234567" not in alert["text"]
    code = alert["text"].split()[3].rstrip(":")
    api.inject_group_message(STAFF_CHAT, SARA, "/nasta")
    api.wait_for(lambda fake: any(m["text"] == f"Sara tog {code}." for m in fake.sent(STAFF_CHAT)))
    assert live.tick(minutes=106)["reminded"] == 1
    api.wait_for(lambda fake: any(m["text"].startswith(f"Påminnelse: Sara ska ringa {code}") for m in fake.sent(STAFF_CHAT)))


def test_erase_over_telegram_leaves_no_contact(live, tmp_path):
    api = live.api
    api.inject_message(PERSON, "/start")
    press(api, PERSON, "Svenska", 1)
    api.wait_for_sent(PERSON, 4)
    api.inject_message(PERSON, "RADERA")
    press(api, PERSON, "JA, radera", 5)
    assert api.wait_for_sent(PERSON, 6)[5]["text"].startswith("Klart. Allt om dig är raderat.")
    database = create_engine(f"sqlite:///{tmp_path}/live.db")
    with database.connect() as connection:
        assert connection.scalar(text("select count(*) from contacts")) == 0
        assert connection.scalar(text("select count(*) from messages")) == 0
    database.dispose()


def test_an_answer_that_cannot_be_delivered_is_reported_to_staff_by_code(live):
    api = live.api
    api.inject_message(PERSON, "/start")
    press(api, PERSON, "Svenska", 1)
    api.wait_for_sent(PERSON, 4)
    api.inject_message(PERSON, "fråga")
    api.wait_for_sent(PERSON, 5)
    api.inject_message(PERSON, "Vad händer nu?")
    (alert,) = api.wait_for_sent(STAFF_CHAT, 1)
    code = alert["text"].split()[2].rstrip(":")
    api.block_chat(PERSON)
    api.inject_group_message(STAFF_CHAT, SARA, f"/svara {code} Vi ringer dig i morgon.")
    api.wait_for(lambda fake: any(m["text"].startswith(f"Ett meddelande till {code} kom inte fram") for m in fake.sent(STAFF_CHAT)))
    assert all(str(PERSON) not in m["text"] for m in api.sent(STAFF_CHAT))


def test_an_application_by_sms_reaches_staff_whose_answer_comes_back_by_sms(tmp_path, keys, clock):
    from tests.fakes.twilio_api import FakeTwilioAPI

    public, sender, person = "https://utvag.example.se", "+46700000000", "+46701112233"
    with FakeBotAPI() as api, FakeTwilioAPI() as sms:
        bot = LiveBot(tmp_path, keys, api, clock, twilio_account_sid=sms.account_sid, twilio_auth_token=sms.auth_token,
                      twilio_from=sender, twilio_api_url=sms.url, public_url=public)  # fmt: skip
        with bot:
            local = f"http://127.0.0.1:{bot.settings.http_port}"
            sms.proxy(public, local)
            with bot.runtime.sessions.begin() as session:
                add_staff(session, name="Sara", role="lead", now=clock.now(), telegram_id=str(SARA), signoff="Sara")

            def say(body: str, count: int) -> str:
                assert sms.post_inbound(f"{local}/twilio/sms", from_=person, to=sender, body=body, public_url=public).status_code == 200
                return sms.wait_for_sent(person, count)[count - 1]["body"]

            assert "1 Svenska" in say("hej", 1)
            assert say("1", 4).startswith("Vad vill du göra?")
            assert say("2", 5).startswith("Vem gäller det?")  # Ansök om stöd
            assert say("1", 6).startswith("Är du 18-29")
            assert say("1", 7).startswith("Vad vill du ha hjälp med?")
            assert "Hjälp med: boende, skulder" in say("1 3", 8)
            assert say("1", 9).startswith("Tack. Din ansökan är mottagen.")
            (alert,) = api.wait_for_sent(STAFF_CHAT, 1)
            assert alert["text"].startswith("Ny ansökan K-") and "701112233" not in alert["text"]
            code = alert["text"].split()[2].rstrip(":")
            api.inject_group_message(STAFF_CHAT, SARA, f"/svara {code} Hej! Kan vi ses på torsdag?")
            assert sms.wait_for_sent(person, 10)[9]["body"].startswith("Vill du något mer?")
            answer = sms.wait_for_sent(person, 11)[10]["body"]
            assert answer == "Hej! Kan vi ses på torsdag?\n- Sara, SIG"


# --- a neighbour fails: the rest keeps serving -------------------------------------------------------------------


def wait_until(predicate, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.05)


def test_telegram_unreachable_at_start_is_retried_while_the_web_chat_serves(tmp_path, keys, clock, caplog):
    import logging

    import httpx

    caplog.set_level(logging.INFO, logger="bot.app")
    api = FakeBotAPI()
    api.start()
    api.stop()  # its port is known and nothing answers there: Telegram is unreachable
    bot = LiveBot(tmp_path, keys, api, clock)
    bot.runtime.channel_retry = (0.05, 0.2)
    try:
        with bot, httpx.Client(base_url=f"http://127.0.0.1:{bot.settings.http_port}") as client:
            health = client.get("/healthz")
            assert health.status_code == 503
            body = health.json()
            assert {key: body[key] for key in ("status", "database", "channels")} == {
                "status": "unavailable", "database": "ok", "channels": {"telegram": "unavailable", "webchat": "ok"}}  # fmt: skip
            worked = body["last_success_seconds_ago"]
            assert worked["telegram"] is None and worked["webchat"] is not None  # Telegram has never answered
            client.get("/chat")
            greeting = client.get("/chat/api/messages").json()["messages"]
            assert greeting and greeting[0]["from"] == "bot"  # the web chat answers meanwhile
            wait_until(lambda: bot.runtime.health.failures["telegram"] >= 4)  # tried again and again in the background
            api.start()
            wait_until(lambda: client.get("/healthz").status_code == 200)
            assert client.get("/healthz").json()["channels"] == {"telegram": "ok", "webchat": "ok"}
            api.inject_message(PERSON, "/start")
            assert api.wait_for_sent(PERSON, 1)[0]["text"]
    finally:
        api.stop()
    said = [record.getMessage() for record in caplog.records if "telegram" in record.getMessage() and "start" in record.getMessage()]
    assert said[0] == "telegram cannot start (NetworkError); the rest serves, and it is tried again in the background"
    assert said[-1].startswith("telegram started after ") and len(said) == 2  # logged once, not at each of the tries


def test_a_channel_still_down_is_logged_once_a_minute(tmp_path, keys, clock, caplog):
    api = FakeBotAPI()
    api.start()
    api.stop()
    bot = LiveBot(tmp_path, keys, api, clock)
    bot.runtime.channel_retry = (0.02, 0.05)
    minutes = [0.0]
    bot.runtime.monotonic = lambda: minutes[0] * 60
    with bot:
        wait_until(lambda: bot.runtime.health.failures["telegram"] >= 3)
        assert not [record for record in caplog.records if "still cannot start" in record.getMessage()]
        minutes[0] = 1.0  # a minute on: the next failure is logged, with how many tries there have been
        wait_until(lambda: any("still cannot start" in record.getMessage() for record in caplog.records))
        tries = bot.runtime.health.failures["telegram"]
        wait_until(lambda: bot.runtime.health.failures["telegram"] >= tries + 3)
    still = [record.getMessage() for record in caplog.records if "still cannot start" in record.getMessage()]
    assert len(still) == 1 and still[0].startswith("telegram still cannot start (NetworkError, ")


@pytest.mark.postgres
def test_while_the_database_is_away_health_says_so_and_a_send_is_answered_503(tmp_path, keys, clock, postgres_behind_a_proxy, caplog):
    import httpx

    url, proxy = postgres_behind_a_proxy
    with FakeBotAPI() as api, LiveBot(tmp_path, keys, api, clock, database_url=url) as bot:
        with httpx.Client(base_url=f"http://127.0.0.1:{bot.settings.http_port}") as client:
            health = client.get("/healthz").json()
            assert {key: health[key] for key in ("status", "database", "channels")} == {
                "status": "ok", "database": "ok", "channels": {"telegram": "ok", "webchat": "ok"}}  # fmt: skip
            client.get("/chat")
            assert client.get("/chat/api/messages").json()["messages"]
            proxy.cut()  # PostgreSQL restarts: every connection ends, new ones are refused
            sent = client.post("/chat/api/send", json={"text": "hej, är ni där?"})
            assert sent.status_code == 503, sent.text
            assert "Try again in a moment" in sent.json()["error"] and sent.headers["retry-after"]
            wait_until(lambda: client.get("/healthz").status_code == 503)
            assert client.get("/healthz").json()["database"] == "unavailable"
            proxy.restore()
            wait_until(lambda: client.get("/healthz").status_code == 200)
            assert client.post("/chat/api/send", json={"text": "hej, är ni där?"}).status_code == 202
    away = [record.getMessage() for record in caplog.records if record.name == "bot.web"]
    # Why it was away is kept (the driver's class and message, which name the server, never a row) and nothing of the text.
    assert away and away[0].startswith("database unavailable (OperationalError: ") and "POST /chat/api/send" in away[0]
    assert "är ni där" not in caplog.text


def test_utvag_timezone_sets_the_zone_of_office_hours_and_check_in_schedules(tmp_path, keys, clock):
    from datetime import UTC, datetime

    from bot.app import Runtime
    from bot.settings import load_settings
    from handlers import calendar, schedule
    from tests.runner import free_port

    def runtime(**zone: str) -> Runtime:
        settings = load_settings(secret_keys=keys.secret, pseudonym_key=keys.pseudonym, http_port=free_port(),
                                 database_url=f"sqlite:///{tmp_path}/{len(zone)}.db", **zone)  # fmt: skip
        return Runtime(settings, clock)

    def weekly_at_ten(profile) -> datetime:
        return schedule.next_due(schedule.parse_rule("varje onsdag 10:00", clock.now(), profile), clock.now(), profile)

    stockholm, new_york = runtime(), runtime(timezone="America/New_York")
    try:
        assert stockholm.profile.office_hours.timezone == "Europe/Stockholm"  # unset: the profile's zone
        assert calendar.is_open(stockholm.profile, clock.now())  # Tuesday 11:00 in Stockholm
        assert weekly_at_ten(stockholm.profile) == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        assert new_york.profile.office_hours.timezone == "America/New_York"
        assert not calendar.is_open(new_york.profile, clock.now())  # 05:00 in New York
        assert weekly_at_ten(new_york.profile) == datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    finally:
        stockholm.db.dispose()
        new_york.db.dispose()


def ask(api: FakeBotAPI, question: str) -> tuple[dict, str]:
    """The person asks a question; the staff group's alert for it and the case's code."""
    api.inject_message(PERSON, "/start")
    press(api, PERSON, "Svenska", 1)
    api.wait_for_sent(PERSON, 4)
    api.inject_message(PERSON, "fråga")
    api.wait_for_sent(PERSON, 5)
    api.inject_message(PERSON, question)
    api.wait_for(lambda fake: any(m["text"].startswith("Ny fråga K-") for m in fake.sent(STAFF_CHAT)))
    alert = next(m for m in api.sent(STAFF_CHAT) if m["text"].startswith("Ny fråga K-"))
    return alert, alert["text"].split()[2].rstrip(":")


def group_post(api: FakeBotAPI, starts: str) -> dict:
    api.wait_for(lambda fake: any(m["text"].startswith(starts) for m in fake.sent(STAFF_CHAT)))
    return next(m for m in reversed(api.sent(STAFF_CHAT)) if m["text"].startswith(starts))


def test_only_an_answer_to_the_persons_alert_reaches_them_and_a_remark_on_a_note_stays_on_the_desk(live):
    api = live.api
    alert, code = ask(api, "Kan ni hjälpa mig med skulder?")
    asked = len(api.wait_for_sent(PERSON, 6))
    api.inject_group_message(STAFF_CHAT, SARA, "Ja, det kan vi. Vi hörs i morgon.", reply_to_message_id=alert["message_id"])
    sent = group_post(api, f"Skickat till {code}.")
    assert sent["text"] == f"Skickat till {code}. Personen fick:\nJa, det kan vi. Vi hörs i morgon.\n- Sara, SIG"
    assert api.wait_for_sent(PERSON, asked + 1)[asked]["text"] == "Ja, det kan vi. Vi hörs i morgon.\n- Sara, SIG"
    command = api.update(api.inject_group_message(STAFF_CHAT, SARA, f"/notera {code} ringde i fredags"))["message"]
    note = group_post(api, f"Anteckningen är sparad på {code}.")
    assert note["params"]["reply_parameters"]["message_id"] == command["message_id"]  # addressed to Sara, in her thread
    api.inject_group_message(STAFF_CHAT, SARA, "obs han lät påverkad i fredags", reply_to_message_id=note["message_id"])
    assert "Ditt svar skickades inte" in group_post(api, "Ditt svar skickades inte")["text"]
    api.inject_group_message(STAFF_CHAT, OMAR, "Jag kan ta den", reply_to_message_id=alert["message_id"])
    group_post(api, f"{code} tas av Sara, så ditt svar skickades inte.")
    # The holder's next answer arrives next: nothing refused went before it (the person's messages keep their order).
    api.inject_group_message(STAFF_CHAT, SARA, f"/svara {code} Vi ses kl 14.")
    received = api.wait_for_sent(PERSON, asked + 2)
    assert [m["text"] for m in received[asked:]] == ["Ja, det kan vi. Vi hörs i morgon.\n- Sara, SIG", "Vi ses kl 14.\n- Sara, SIG"]


def test_the_number_goes_to_the_holder_alone_in_a_private_chat_and_never_into_the_group(live):
    api = live.api
    api.inject_message(SARA, "/start")  # Sara opens her private chat with the bot: she is staff, not a person asking
    (hello,) = api.wait_for_sent(SARA, 1)
    assert hello["text"].startswith("Hej! Här i den privata chatten skickar jag bara det som är för dig ensam")
    with live.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
    api.inject_message(PERSON, "/start")
    press(api, PERSON, "Svenska", 1)
    press(api, PERSON, "Bli uppringd", 4)
    press(api, PERSON, "tisdag 1 december kl. 13–15", 5)
    api.wait_for_sent(PERSON, 6)
    api.inject_contact(PERSON, "+46701234567")
    alert = group_post(api, "Vill bli uppringd K-")
    code = alert["text"].split()[3].rstrip(":")
    api.inject_callback(STAFF_CHAT, f"number:{code}", message_id=alert["message_id"], from_user=OMAR)
    assert group_post(api, "Bara den som har")["text"] == f"Bara den som har {code} kan se numret. Ta ärendet först."
    api.inject_group_message(STAFF_CHAT, SARA, "/nasta")
    card = group_post(api, f"{code} samtal, taget")
    assert any(button["text"] == "Visa numret" for row in card["reply_markup"]["inline_keyboard"] for button in row)
    api.inject_callback(STAFF_CHAT, f"number:{code}", message_id=card["message_id"], from_user=SARA)
    private = api.wait_for_sent(SARA, 2)[1]
    assert private["text"] == f"Nummer för {code}: +46701234567 (visningen loggas)"
    group_post(api, f"Sara: numret för {code} är skickat till dig i en privat chatt med boten")
    assert all("46701234567" not in (m["text"] or "") for m in api.sent(STAFF_CHAT))

    def delivered(_api: FakeBotAPI) -> bool:
        with live.runtime.sessions() as session:
            (delivery,) = session.scalars(select(OutboxItem).where(OutboxItem.target == "address", OutboxItem.case_id.is_not(None))).all()
            return delivery.status == "sent" and delivery.payload is None  # nothing keeps the number once it went

    api.wait_for(delivered)
    with live.runtime.sessions() as session:
        (shown,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "number_shown")).all()
        assert shown.actor.endswith("Sara") and "4670" not in (shown.detail or "")


def test_a_claimed_alert_says_who_took_it_and_offers_no_claim_any_more(live):
    api = live.api
    alert, code = ask(api, "Hur lång tid tar det?")
    assert alert["reply_markup"]["inline_keyboard"][0][0]["text"] == "Ta ärendet"
    api.inject_callback(STAFF_CHAT, f"claim:{code}", message_id=alert["message_id"], from_user=OMAR)

    def edited_to(ending: str):
        def edited(fake: FakeBotAPI) -> bool:
            return any(call["method"] == "editMessageText" and call["message_id"] == alert["message_id"]
                       and call["text"].endswith(ending) for call in fake.sent(STAFF_CHAT))  # fmt: skip

        return edited

    api.wait_for(edited_to("✓ Tas av Omar."))
    edit = next(c for c in api.sent(STAFF_CHAT) if c["method"] == "editMessageText")
    assert edit["text"] == f"{alert['text']}\n✓ Tas av Omar." and edit["reply_markup"] is None
    api.inject_group_message(STAFF_CHAT, OMAR, f"/avsluta {code} hänvisad")
    api.wait_for(edited_to("✓ Avslutat."))
    assert not any(m["text"].startswith(alert["text"]) and m["method"] == "sendMessage" for m in api.sent(STAFF_CHAT)[1:])
