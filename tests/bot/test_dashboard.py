"""The staff dashboard, in process over a real Runtime on a clock the test moves: logins, sessions, CSRF, the pages."""

import logging
import os
import re
import stat
import subprocess
import warnings
from datetime import timedelta

import pytest
from sqlalchemy import func, select

with warnings.catch_warnings():  # Starlette would like httpx2; httpx is what the project pins
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from bot.app import Runtime
from bot.channels.base import InboundMessage
from bot.dashboard import auth
from bot.dashboard.demo import SAMPLES, add_sample_cases, demo_staff
from bot.dashboard.web import Dashboard
from bot.settings import load_settings
from bot.web import build_app
from handlers.desk import queue
from handlers.turn import Inbound
from storage.cases import open_case
from storage.models import AuditEvent, Case, ChannelIdentity, Contact, LoginFailure, Message, OutboxItem, Staff, StaffSession
from storage.report import report
from storage.staff import add_staff
from tests.runner import UTVAG, clean_env, free_port, utvag

pytestmark = pytest.mark.e2e  # starts the Runtime or `utvag`: CI runs it again under shifted clocks

CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
SARA_PASSWORD = "sara-har-ett-langt-losenord"
OMAR_PASSWORD = "omar-har-ocksa-ett-langt"
QUESTION = "Hur lång tid tar det innan jag får träffa någon?"


@pytest.fixture
def runtime(tmp_path, keys, clock):
    settings = load_settings(secret_keys=keys.secret, pseudonym_key=keys.pseudonym, database_url=f"sqlite:///{tmp_path}/dash.db",
                             http_port=free_port())  # fmt: skip
    runtime = Runtime(settings, clock)
    with runtime.sessions.begin() as session:
        for name, role, password in (("Sara", "lead", SARA_PASSWORD), ("Omar", "staff", OMAR_PASSWORD)):
            member = add_staff(session, name=name, role=role, now=clock.now())
            member.password_hash = auth.hash_password(password)
    yield runtime
    runtime.db.dispose()


def browser(runtime, base_url="http://testserver") -> TestClient:
    return TestClient(build_app(Dashboard(runtime).routes), base_url=base_url, follow_redirects=False)


def token(page_text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page_text).group(1)


def log_in(client: TestClient, name: str, password: str):
    page = client.get("/staff/login")
    return client.post("/staff/login", data={"csrf": token(page.text), "name": name, "password": password})


def ask(runtime, visitor: str = "visitor-aaaaaaaaaaaaaaaaaaaa", text: str = QUESTION) -> Case:
    """A person asks a question in the web chat, through the real engine."""
    for step, content in enumerate([Inbound(kind="start", text="/start"), Inbound(kind="choice", choice="lang:sv", text="Svenska"),
                                    Inbound(kind="choice", choice="menu:ask", text="Ställ en fråga"), Inbound(kind="text", text=text)]):
        runtime.engine.accept(InboundMessage("webchat", f"{visitor}:{step}", visitor, content))
        runtime.engine.process_pending()
    with runtime.sessions() as session:
        return session.scalars(select(Case).order_by(Case.id.desc())).first()


def flash(page_text: str) -> str:
    match = re.search(r'id="flash">([^<]*)<', page_text)
    return match.group(1) if match else ""


# --- logging in -----------------------------------------------------------------------------------------------


def test_a_staff_member_logs_in_and_gets_a_server_side_session_cookie(runtime):
    client = browser(runtime)
    assert client.get("/staff").headers["location"] == "/staff/login"
    response = log_in(client, "Sara", SARA_PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/staff"
    cookie = next(value for value in response.headers.get_list("set-cookie") if value.startswith("utvag_staff="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) >= 43  # 32 random bytes, url-safe base64
    page = client.get("/staff")
    assert page.status_code == 200 and "Sara" in page.text and "Kön är tom" in page.text
    with runtime.sessions() as session:
        (row,) = session.scalars(select(StaffSession)).all()
        assert row.token_hash == auth.token_hash(value) and value not in row.token_hash  # only the hash is stored


def test_a_wrong_password_is_refused_and_logged_without_name_or_address(runtime, caplog):
    client = browser(runtime)
    with caplog.at_level(logging.INFO, logger="bot.dashboard.auth"):
        refused = log_in(client, "Sara", "not-the-password")
        unknown = log_in(client, "Nobody", "whatever-it-is")
    for response in (refused, unknown):
        assert response.status_code == 401 and "Fel namn eller lösenord. Försök igen." in response.text
        assert not any(c.startswith("utvag_staff=") for c in response.headers.get_list("set-cookie"))
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "dashboard login failed" in logged
    assert "Sara" not in logged and "Nobody" not in logged and "testclient" not in logged
    assert re.search(r"pair [0-9a-f]{8}, address [0-9a-f]{8}, name [0-9a-f]{8}", logged)
    assert client.get("/staff").status_code == 303


def browser_at(runtime, address: str) -> TestClient:
    return TestClient(build_app(Dashboard(runtime).routes), base_url="http://testserver", follow_redirects=False, client=(address, 50000))


def test_guessing_a_name_from_one_address_never_keeps_the_real_person_out(runtime, clock):
    guesser = browser_at(runtime, "203.0.113.9")
    refusals = []
    for _ in range(40):
        answer = log_in(guesser, "Sara", "wrong-password-1")
        refusals.append(answer.status_code)
        clock.advance(seconds=1)
    assert refusals[:3] == [401, 401, 401] and 429 in refusals  # after three failures the guesser waits
    slowed = log_in(guesser, "Sara", "wrong-password-1")
    assert slowed.status_code == 429 and re.search(r"Vänta \d+ (sekunder|sekund|minuter) och försök igen", slowed.text)
    assert log_in(browser_at(runtime, "198.51.100.7"), "Sara", SARA_PASSWORD).status_code == 303  # Sara, from her office


def test_the_browser_the_person_logged_in_on_is_not_slowed_by_guessing_from_its_own_address(runtime, clock):
    sara = browser_at(runtime, "198.51.100.7")
    assert log_in(sara, "Sara", SARA_PASSWORD).status_code == 303  # leaves the device cookie
    sara.post("/staff/logout", data={"csrf": token(sara.get("/staff").text)})
    guesser = browser_at(runtime, "198.51.100.7")  # the same office address, another browser
    for attempt in range(30):
        log_in(guesser, f"guess{attempt}" if attempt % 2 else "Sara", "wrong-password-1")
        clock.advance(seconds=2)
    assert log_in(guesser, "Omar", OMAR_PASSWORD).status_code == 429  # the address is slowed…
    assert log_in(sara, "Sara", SARA_PASSWORD).status_code == 303  # …but not Sara on her own browser


def test_the_waits_grow_and_end(runtime, clock):
    guesser = browser_at(runtime, "203.0.113.9")
    for _ in range(3):
        log_in(guesser, "Omar", "wrong-password-1")
    waits = []
    for _ in range(5):
        refused = log_in(guesser, "Omar", "wrong-password-1")
        waits.append(int(re.search(r"Vänta (\d+)", refused.text).group(1)) if refused.status_code == 429 else 0)
        clock.advance(seconds=max(waits[-1], 1))
        log_in(guesser, "Omar", "wrong-password-1")
    assert waits == sorted(waits) and waits[-1] > waits[0]
    clock.advance(minutes=61)
    assert log_in(guesser, "Omar", OMAR_PASSWORD).status_code == 303


def test_failures_are_kept_and_logged_only_as_keyed_hashes(runtime, caplog):
    client = browser(runtime)
    with caplog.at_level(logging.INFO, logger="bot.dashboard.auth"):
        for attempt in range(12):
            log_in(client, f"guess{attempt}", "wrong-password-1")
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "dashboard login slowed" in logged and "guess" not in logged and "testclient" not in logged
    with runtime.sessions() as session:
        keys = session.scalars(select(LoginFailure.key)).all()
        assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in keys)


def test_the_login_form_needs_its_own_token(runtime):
    client = browser(runtime)
    refused = client.post("/staff/login", data={"name": "Sara", "password": SARA_PASSWORD})
    assert refused.status_code == 403 and "Inloggningen hade gått ut" in refused.text


def test_https_makes_the_cookie_secure_with_the_host_prefix(runtime, tmp_path, keys, clock):
    settings = runtime.settings.model_copy(update={"public_url": "https://utvag.example.se"})
    secure = Runtime(settings, clock)
    client = browser(secure, base_url="https://testserver")
    response = log_in(client, "Sara", SARA_PASSWORD)
    cookie = next(value for value in response.headers.get_list("set-cookie") if value.startswith("__Host-utvag_staff="))
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie and "HttpOnly" in cookie
    assert client.get("/staff").status_code == 200
    secure.db.dispose()


# --- sessions -------------------------------------------------------------------------------------------------


def test_a_session_ends_after_thirty_idle_minutes(runtime, clock):
    client = browser(runtime)
    log_in(client, "Sara", SARA_PASSWORD)
    clock.advance(minutes=29)
    assert client.get("/staff").status_code == 200  # activity keeps it alive
    clock.advance(minutes=29)
    assert client.get("/staff").status_code == 200
    clock.advance(minutes=30)
    assert client.get("/staff").headers["location"] == "/staff/login"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 0


def test_a_session_ends_after_eight_hours_however_active(runtime, clock):
    client = browser(runtime)
    log_in(client, "Sara", SARA_PASSWORD)
    for _ in range(23):  # a request every 20 minutes for 7 h 40 min
        clock.advance(minutes=20)
        assert client.get("/staff").status_code == 200
    clock.advance(minutes=20)
    assert client.get("/staff").status_code == 303


def test_logging_out_ends_the_session_on_the_server(runtime):
    client = browser(runtime)
    log_in(client, "Sara", SARA_PASSWORD)
    copied = client.cookies.get("utvag_staff")
    page = client.get("/staff")
    assert client.post("/staff/logout", data={"csrf": token(page.text)}).headers["location"] == "/staff/login?ute=1"
    thief = browser(runtime)
    thief.cookies.set("utvag_staff", copied)
    assert thief.get("/staff").headers["location"] == "/staff/login"
    with runtime.sessions() as session:
        events = session.execute(select(AuditEvent.actor, AuditEvent.action).order_by(AuditEvent.id)).all()
        assert [action for _, action in events] == ["logged_in", "logged_out"] and events[0].actor.endswith(":Sara")


def test_removing_a_staff_member_ends_their_sessions(runtime, clock):
    sara, omar = browser(runtime), browser(runtime)
    log_in(sara, "Sara", SARA_PASSWORD)
    log_in(omar, "Omar", OMAR_PASSWORD)
    assert omar.get("/staff").status_code == 200
    team = sara.get("/staff/team")
    with runtime.sessions() as session:
        omar_id = session.scalar(select(Staff.id).where(Staff.name == "Omar"))
    removed = sara.post(f"/staff/team/{omar_id}/remove", data={"csrf": token(team.text)})
    assert removed.status_code == 303
    assert "Omar är borttagen och utloggad." in sara.get("/staff/team").text
    assert omar.get("/staff").headers["location"] == "/staff/login"
    assert log_in(omar, "Omar", OMAR_PASSWORD).status_code == 401
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(StaffSession).where(StaffSession.staff_id == omar_id)) == 0
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "staff_removed")).actor.startswith("staff:")


def test_removal_from_the_command_line_is_honoured_on_the_next_request(runtime, clock):
    omar = browser(runtime)
    log_in(omar, "Omar", OMAR_PASSWORD)
    with runtime.sessions.begin() as session:  # what `utvag staff remove Omar` does
        session.scalar(select(Staff).where(Staff.name == "Omar")).removed_at = clock.now()
    assert omar.get("/staff").headers["location"] == "/staff/login"


# --- CSRF and headers --------------------------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused(runtime):
    case = ask(runtime)
    client = browser(runtime)
    log_in(client, "Omar", OMAR_PASSWORD)
    for data in ({}, {"csrf": "forged"}):
        refused = client.post(f"/staff/case/{case.code}/claim", data=data)
        assert refused.status_code == 403 and "Ladda om sidan och försök igen" in refused.text
    cross_site = client.post(f"/staff/case/{case.code}/claim", data={"csrf": token(client.get("/staff").text)},
                             headers={"Origin": "https://evil.example"})  # fmt: skip
    assert cross_site.status_code == 403
    same_site = client.post(f"/staff/case/{case.code}/claim", data={"csrf": token(client.get("/staff").text)},
                            headers={"Sec-Fetch-Site": "same-site", "Origin": "null"})  # fmt: skip
    assert same_site.status_code == 403 and "från en annan sida" in same_site.text
    with runtime.sessions() as session:
        assert session.get(Case, case.id).state == "open"


def test_every_dashboard_response_has_the_security_headers(runtime):
    case = ask(runtime)
    anonymous, sara, omar = browser(runtime), browser(runtime), browser(runtime)
    responses = [anonymous.get("/staff"), anonymous.get("/staff/login"), anonymous.get("/staff/static/dashboard.css"),
                 anonymous.get("/staff/nowhere"), log_in(sara, "Sara", SARA_PASSWORD), sara.get("/staff"),
                 sara.get(f"/staff/case/{case.code}"), sara.get("/staff/case/K-ZZZZ"), sara.get("/staff/numbers"),
                 sara.get("/staff/numbers.csv"), sara.get("/staff/team"), log_in(omar, "Omar", OMAR_PASSWORD),
                 omar.get("/staff/team")]  # fmt: skip
    for response in responses:
        headers = response.headers
        assert headers["content-security-policy"] == CSP, response.url
        assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    assert [response.status_code for response in responses] == [303, 200, 200, 404, 303, 200, 200, 404, 200, 200, 200, 303, 403]
    assert "Den här sidan finns inte" in responses[3].text and "Det finns inget ärende K-ZZZZ" in responses[7].text
    for odd in (anonymous.put("/staff/login"), anonymous.delete("/staff"), anonymous.post("/staff")):
        assert odd.status_code == 404 and odd.headers["content-security-policy"] == CSP


# --- the pages ----------------------------------------------------------------------------------------------------


def test_the_queue_has_desk_order_and_no_message_text(runtime, clock):
    first = ask(runtime, "visitor-one-aaaaaaaaaaaaaaaaa", "Första frågan")
    clock.advance(minutes=5)
    ask(runtime, "visitor-two-aaaaaaaaaaaaaaaaa", "Andra frågan")
    danger = Inbound(kind="text", text="de hotar att döda mig")
    runtime.engine.accept(InboundMessage("webchat", "danger-1", "visitor-three-aaaaaaaaaaaaaa", danger))
    runtime.engine.process_pending()
    clock.advance(hours=60)
    client = browser(runtime)
    log_in(client, "Omar", OMAR_PASSWORD)
    page = client.get("/staff").text
    with runtime.sessions() as session:
        expected = [case.code for case in queue(session)]
    assert re.findall(r'data-code="(K-[0-9A-Z]+)"', page) == expected and len(expected) == 3
    assert "AKUT" in page and "FÖRSENAT" in page and first.code in page
    assert "frågan" not in page and "döda" not in page


def test_a_person_s_cases_are_linked_kolla_is_marked_and_the_alarm_is_shown_first(runtime):
    question = ask(runtime, "visitor-four-aaaaaaaaaaaaaaaa", "Hur lång är kön?")
    said = Inbound(kind="text", text="dom sa ja har till fredag annars")
    runtime.engine.accept(InboundMessage("webchat", "check-1", "visitor-four-aaaaaaaaaaaaaaaa", said))
    runtime.engine.process_pending()
    other = ask(runtime, "visitor-five-aaaaaaaaaaaaaaaa", "Vad kostar det?")
    client = browser(runtime)
    log_in(client, "Omar", OMAR_PASSWORD)
    page = client.get("/staff").text
    assert re.findall(r'data-code="(K-[0-9A-Z]+)"', page) == [question.code, other.code]  # kolla moves up
    assert "KOLLA" in page and "samma person" not in page  # one open case each here
    case_page = client.get(f"/staff/case/{question.code}").text
    assert case_page.index('id="alarm"') < case_page.index('id="transcript"')
    assert re.search(r'id="alarm-text">dom sa ja har till fredag annars<', case_page)
    assert "Meddelandet vi frågade om (kolla)" in case_page
    assert 'id="alarm"' not in client.get(f"/staff/case/{other.code}").text


def test_the_queue_and_the_case_page_link_the_cases_of_one_person(runtime):
    first = ask(runtime, "visitor-six-aaaaaaaaaaaaaaaaa", "Första frågan")
    for step, content in enumerate([Inbound(kind="text", text="meny"), Inbound(kind="choice", choice="menu:ask", text="Ställ en fråga"),
                                    Inbound(kind="text", text="Andra frågan")]):  # fmt: skip
        runtime.engine.accept(InboundMessage("webchat", f"more-{step}", "visitor-six-aaaaaaaaaaaaaaaaa", content))
        runtime.engine.process_pending()
    with runtime.sessions() as session:
        second = session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert second.code != first.code
    client = browser(runtime)
    log_in(client, "Omar", OMAR_PASSWORD)
    page = client.get("/staff").text
    assert f'samma person: <a href="/staff/case/{second.code}">' in page and f'samma person: <a href="/staff/case/{first.code}">' in page
    assert f'href="/staff/case/{second.code}" class="code">{second.code}</a>' in client.get(f"/staff/case/{first.code}").text


def test_opening_a_case_shows_the_transcript_and_is_audited(runtime):
    case = ask(runtime)
    client = browser(runtime)
    log_in(client, "Omar", OMAR_PASSWORD)
    page = client.get(f"/staff/case/{case.code.lower()}")
    assert page.status_code == 200 and QUESTION in page.text and "Välj språk" in page.text
    with runtime.sessions() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "viewed_transcript")).all()
        omar_id = session.scalar(select(Staff.id).where(Staff.name == "Omar"))
        assert event.case_id == case.id and event.actor == f"staff:{omar_id}:Omar" and event.detail is None
    client.get(f"/staff/case/{case.code}")
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "viewed_transcript")) == 2


def test_claim_reply_note_enrol_and_close_go_through_the_desk(runtime):
    for step, (key, text) in enumerate([(None, "/start"), *SAMPLES["application-housing"]]):
        content = Inbound(kind="start", text=text) if step == 0 else Inbound(kind="choice", choice=key, text=text)
        runtime.engine.accept(InboundMessage("webchat", f"apply:{step}", "visitor-apply-aaaaaaaaaaaaaaa", content))
        runtime.engine.process_pending()
    with runtime.sessions() as session:
        case = session.scalar(select(Case).where(Case.kind == "application"))
    client = browser(runtime)
    log_in(client, "Omar", OMAR_PASSWORD)
    page = client.get(f"/staff/case/{case.code}")
    csrf = token(page.text)
    act = lambda action, **data: client.post(f"/staff/case/{case.code}/{action}", data={"csrf": csrf, **data})  # noqa: E731

    assert act("claim").headers["location"] == f"/staff/case/{case.code}"
    assert flash(client.get(f"/staff/case/{case.code}").text) == f"Omar tog {case.code}."
    act("reply", text="Hej! Vi kan ses på torsdag kl 14.")
    sent = f"Skickat till {case.code}. Personen fick:\nHej! Vi kan ses på torsdag kl 14.\n- SIG"
    assert flash(client.get(f"/staff/case/{case.code}").text) == sent
    act("reply", text="   ")
    assert flash(client.get(f"/staff/case/{case.code}").text) == "Skriv ett svar först."
    act("note", text="Ringde, bokat möte.")
    act("enrol")
    act("checkin", rule="varje onsdag 10:00")
    assert flash(client.get(f"/staff/case/{case.code}").text).startswith(f"Incheckning för {case.code}: varje onsdag 10:00.")
    act("close")
    assert flash(client.get(f"/staff/case/{case.code}").text) == "Välj minst ett utfall innan du avslutar."
    client.post(f"/staff/case/{case.code}/close", data={"csrf": csrf, "outcome": ["housing", "income"]})
    closed = client.get(f"/staff/case/{case.code}").text
    assert flash(closed) == f"{case.code} är avslutat: eget boende, inkomst."
    assert "Ringde, bokat möte." in closed and "Hej! Vi kan ses på torsdag kl 14." in closed
    with runtime.sessions() as session:
        case = session.get(Case, case.id)
        assert (case.state, case.outcome, case.enrolled_at is not None) == ("closed", "housing+income", True)
        answer = session.scalar(select(Message).where(Message.direction == "out").order_by(Message.id.desc()))
        assert answer.body == "Hej! Vi kan ses på torsdag kl 14.\n- SIG"
        assert session.scalar(select(OutboxItem).where(OutboxItem.message_id == answer.id)).channel == "webchat"
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.case_id == case.id)).all()
        assert {"claimed", "replied", "noted", "enrolled", "checkin_schedule", "closed", "viewed_transcript"} <= set(actions)
        numbers = report(session, runtime.clock.now())
        assert numbers["outcomes"] | {"successful_share": None} == {"enrolled": 1, "closed": 1, "housing": 1, "income": 1,
                                                                    "occupation": 0, "successful": 1, "successful_share": None}
        assert numbers["outcomes"]["successful_share"] == 1.0


def apply(runtime, visitor: str) -> Case:
    """A person applies for support in the web chat, through the real engine."""
    for step, (key, text) in enumerate([(None, "/start"), *SAMPLES["application-housing"]]):
        content = Inbound(kind="start", text=text) if step == 0 else Inbound(kind="choice", choice=key, text=text)
        runtime.engine.accept(InboundMessage("webchat", f"{visitor}:{step}", visitor, content))
        runtime.engine.process_pending()
    with runtime.sessions() as session:
        return session.scalars(select(Case).order_by(Case.id.desc())).first()


def test_the_area_is_recorded_at_enrolment_and_on_the_case_and_an_area_outreach_reaches_only_it(runtime):
    grimsta, vinsta, elsewhere = (apply(runtime, f"visitor-area-{n}-aaaaaaaaaaaaaaa") for n in range(3))
    client = browser(runtime)
    log_in(client, "Sara", SARA_PASSWORD)
    csrf = token(client.get(f"/staff/case/{grimsta.code}").text)
    act = lambda case, action, **data: client.post(f"/staff/case/{case.code}/{action}", data={"csrf": csrf, **data})  # noqa: E731
    act(grimsta, "enrol", area="Grimsta")
    page = client.get(f"/staff/case/{grimsta.code}").text
    assert flash(page) == f"{grimsta.code} är nu deltagare." and re.search(r'id="case-area">Grimsta<', page)
    act(vinsta, "enrol")  # the area left for later, then chosen on the case page
    act(vinsta, "area", area="Vinsta")
    assert flash(client.get(f"/staff/case/{vinsta.code}").text) == f"{vinsta.code} bor i Vinsta."
    act(elsewhere, "enrol", area="Grimsta")
    act(elsewhere, "area", area="Rinkeby")  # not one of the unit's areas: nothing changes
    assert flash(client.get(f"/staff/case/{elsewhere.code}").text).startswith("Det området har enheten inte.")
    act(elsewhere, "area", area="Råcksta")  # moved
    assert '<option value="Grimsta">Grimsta</option>' in client.get("/staff").text  # the queue page offers the unit's areas
    client.post("/staff/do/incident", data={"csrf": csrf, "confirm": "yes", "area": "Rinkeby"})
    assert flash(client.get("/staff").text).startswith("Det området har enheten inte.")
    client.post("/staff/do/incident", data={"csrf": csrf, "confirm": "yes", "area": "Grimsta"})
    assert flash(client.get("/staff").text) == "Utskicket har börjat: 1 mottagare."
    runtime.engine.scheduled_work(timedelta(minutes=5), None)
    with runtime.sessions() as session:
        reached = session.scalars(select(OutboxItem.contact_id).where(OutboxItem.kind == "incident")).all()
        assert reached == [grimsta.contact_id]
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "area_set")) == 4


def test_someone_elses_case_cannot_be_released(runtime):
    case = ask(runtime)
    sara, omar = browser(runtime), browser(runtime)
    log_in(sara, "Sara", SARA_PASSWORD)
    log_in(omar, "Omar", OMAR_PASSWORD)
    sara.post(f"/staff/case/{case.code}/claim", data={"csrf": token(sara.get("/staff").text)})
    omar.post(f"/staff/case/{case.code}/release", data={"csrf": token(omar.get("/staff").text)})
    assert flash(omar.get(f"/staff/case/{case.code}").text) == f"{case.code} är inte ditt. Det tas av Sara."


def test_only_the_holder_sees_the_number_and_a_colleague_cannot_answer_their_case(runtime):
    case = ask(runtime)
    sara, omar = browser(runtime), browser(runtime)
    log_in(sara, "Sara", SARA_PASSWORD)
    log_in(omar, "Omar", OMAR_PASSWORD)
    sara.post(f"/staff/case/{case.code}/claim", data={"csrf": token(sara.get("/staff").text)})
    omar.post(f"/staff/case/{case.code}/number", data={"csrf": token(omar.get("/staff").text)})
    assert flash(omar.get(f"/staff/case/{case.code}").text) == f"Bara den som har {case.code} kan se numret. Sara har ärendet."
    omar.post(f"/staff/case/{case.code}/reply", data={"csrf": token(omar.get("/staff").text), "text": "Hej från Omar"})
    assert flash(omar.get(f"/staff/case/{case.code}").text).startswith(f"{case.code} tas av Sara, så ditt svar skickades inte.")
    with runtime.sessions() as session:
        assert not session.scalars(select(AuditEvent).where(AuditEvent.action.in_(("number_shown", "replied")))).all()


def test_only_the_lead_reaches_the_team_page_and_the_csv(runtime):
    ask(runtime)
    omar = browser(runtime)
    log_in(omar, "Omar", OMAR_PASSWORD)
    csrf = token(omar.get("/staff").text)
    for response in (omar.get("/staff/team"), omar.get("/staff/numbers.csv"),
                     omar.post("/staff/team/add", data={"csrf": csrf, "name": "Eve", "password": "x" * 20})):  # fmt: skip
        assert response.status_code == 403 and "bara för den som är ansvarig" in response.text
    numbers = omar.get("/staff/numbers")
    assert numbers.status_code == 200 and "numbers.csv" not in numbers.text
    sara = browser(runtime)
    log_in(sara, "Sara", SARA_PASSWORD)
    export = sara.get("/staff/numbers.csv")
    assert export.headers["content-type"].startswith("text/csv") and "attachment" in export.headers["content-disposition"]
    assert "open,question.open,1" in export.text and QUESTION not in export.text


def test_the_lead_adds_staff_who_can_then_log_in(runtime):
    sara = browser(runtime)
    log_in(sara, "Sara", SARA_PASSWORD)
    csrf = token(sara.get("/staff/team").text)
    short = sara.post("/staff/team/add", data={"csrf": csrf, "name": "Lina", "role": "staff", "password": "kort"})
    assert short.status_code == 400 and "minst 10 tecken" in short.text
    twice = sara.post("/staff/team/add", data={"csrf": csrf, "name": "omar", "role": "staff", "password": "x" * 12})
    assert twice.status_code == 409
    sara.post("/staff/team/add", data={"csrf": csrf, "name": "Lina", "role": "staff", "password": "linas-langa-losenord"})
    assert "Lina är tillagd" in sara.get("/staff/team").text
    assert log_in(browser(runtime), "Lina", "linas-langa-losenord").status_code == 303
    with runtime.sessions() as session:
        assert session.scalar(select(Staff.password_hash).where(Staff.name == "Lina")).startswith("$argon2id$")


def test_the_report_measures_queue_times_against_the_promise(runtime, clock):
    start = clock.now()
    with runtime.sessions.begin() as session:
        for minutes_taken, due_hours, breached in ((30, 48, False), (60, 48, False), (600, 48, False), (3000, 48, True)):
            case = open_case(session, contact_id=None, kind="question", now=start, due_at=start + timedelta(hours=due_hours))
            case.state, case.claimed_at = "claimed", start + timedelta(minutes=minutes_taken)
            case.breached_at = start + timedelta(hours=due_hours) if breached else None
        open_case(session, contact_id=None, kind="application", now=start, due_at=start + timedelta(days=14))  # not yet due
        numbers = report(session, start + timedelta(days=3))
    question = numbers["queue"]["question"]
    assert question["median_minutes"] == 330 and question["p90_minutes"] == 3000
    assert (question["within_promise"], question["with_promise"], question["within_share"]) == (3, 4, 0.75)
    assert numbers["queue"]["application"]["with_promise"] == 0 and numbers["open"]["application"]["open"] == 1


# --- the command line and the demo ---------------------------------------------------------------------------


def test_staff_add_with_a_password_from_the_environment(tmp_path, keys, clock):
    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    assert utvag("db", "upgrade", "--create", env=env, cwd=tmp_path).returncode == 0
    added = utvag("staff", "add", "--name", "Sara", "--role", "lead", "--password", env={**env, "UTVAG_STAFF_PASSWORD": SARA_PASSWORD},
                  cwd=tmp_path)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert SARA_PASSWORD not in added.stdout + added.stderr
    short = utvag("staff", "add", "--name", "Omar", "--password", env={**env, "UTVAG_STAFF_PASSWORD": "kort"}, cwd=tmp_path)
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    asked = subprocess.run([UTVAG, "staff", "add", "--name", "Omar", "--password"], env=clean_env(env), cwd=tmp_path,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert asked.returncode == 2 and "UTVAG_STAFF_PASSWORD" in asked.stderr
    settings = load_settings(secret_keys=keys.secret, pseudonym_key=keys.pseudonym, database_url=env["UTVAG_DATABASE_URL"])
    runtime = Runtime(settings, clock)
    with runtime.sessions() as session:
        assert [member.name for member in session.scalars(select(Staff))] == ["Sara"]
    assert log_in(browser(runtime), "Sara", SARA_PASSWORD).status_code == 303
    runtime.db.dispose()


def test_the_demo_login_is_made_once_and_kept_private(runtime, tmp_path, clock):
    path = tmp_path / "var" / "demo-staff.txt"
    name, password = demo_staff(runtime.sessions, path, clock.now())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert demo_staff(runtime.sessions, path, clock.now()) == (name, password)
    assert log_in(browser(runtime), name, password).status_code == 303


def test_sample_data_fills_the_queue_through_the_engine_once(runtime):
    assert add_sample_cases(runtime) > 0
    assert add_sample_cases(runtime) == 0  # a restart adds nothing
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == len(SAMPLES)  # nor an empty contact
        addresses = [identity.address for identity in session.scalars(select(ChannelIdentity))]
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", address) and "sample" not in address for address in addresses)  # random ids
        kinds = sorted(case.kind for case in queue(session))
        assert kinds == ["application", "application", "danger", "question"]
        assert queue(session)[0].urgent


def test_outreach_contact_and_incident_outreach_from_the_queue_page(runtime):
    client = browser(runtime)
    log_in(client, "Omar", OMAR_PASSWORD)
    page = client.get("/staff")
    csrf = token(page.text)
    assert "Efter en händelse" in page.text
    client.post("/staff/do/contact", data={"csrf": csrf, "number": "070-555 12 34"})
    assert flash(client.get("/staff").text) == "Kryssa i att personen sa ja, på plats, innan du skickar."
    client.post("/staff/do/contact", data={"csrf": csrf, "number": "070-555 12 34", "consent": "yes"})
    assert flash(client.get("/staff").text).startswith("Välkomst-SMS:et är på väg.")
    client.post("/staff/do/incident", data={"csrf": csrf})
    assert flash(client.get("/staff").text).startswith("Kryssa i att du har läst meddelandet")
    client.post("/staff/do/incident", data={"csrf": csrf, "confirm": "yes"})
    assert flash(client.get("/staff").text) == "Det finns inga aktiva deltagare att skicka till."
    with runtime.sessions() as session:
        assert "outreach_consent" in session.scalars(select(AuditEvent.action)).all()
