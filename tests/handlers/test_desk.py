"""The staff workspace, driven as staff use it: commands and buttons in the staff group."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from handlers.desk import StaffAction, queue
from storage.models import AuditEvent, Case, OutboxItem
from storage.staff import add_staff
from tests.handlers.test_ask import started


@pytest.fixture
def team(db, clock):
    with db.sessions.begin() as session:
        sara = add_staff(session, name="Sara", role="lead", now=clock.now(), telegram_id="111", signoff="Sara")
        omar = add_staff(session, name="Omar", role="staff", now=clock.now(), telegram_id="222")
        return {"sara": sara.id, "omar": omar.id}


class Group:
    """The staff group as the bot sees it: what staff do in, what the bot posts out."""

    def __init__(self, engine, db):
        self.engine, self.db, self.updates, self.seen = engine, db, 0, 0

    def do(self, who: str, text: str = "", choice: str | None = None, reply_to: str | None = None) -> list[str]:
        self.updates += 1
        self.engine.handle_staff(str(self.updates), StaffAction(telegram_id=who, text=text, choice=choice, reply_to=reply_to))
        return self.posts()

    def posts(self) -> list[str]:
        with self.db.sessions() as session:
            items = session.scalars(select(OutboxItem).where(OutboxItem.target == "staff_group", OutboxItem.id > self.seen)
                                    .order_by(OutboxItem.id)).all()  # fmt: skip
            if items:
                self.seen = items[-1].id
            # New posts; an edit of an earlier post (an alert that now says who took it) is no new post.
            return [json.loads(item.payload)["text"] for item in items if item.kind != "edit"]


@pytest.fixture
def group(engine, db, team):
    return Group(engine, db)


def case_by_kind(db, kind: str) -> Case:
    with db.sessions() as session:
        return session.scalar(select(Case).where(Case.kind == kind))


def test_someone_not_registered_is_refused_politely_and_audited(group, db):
    (refusal,) = group.do("999", "/ko")
    assert "inte registrerad som personal" in refusal
    with db.sessions() as session:
        assert session.scalar(select(AuditEvent.action)) == "refused"


def test_someone_outside_the_team_is_refused_once_in_a_while_and_their_chatter_is_not_answered(group, db, clock):
    (refusal,) = group.do("999", "/ko")
    assert "inte registrerad som personal" in refusal
    assert group.do("999", "/ko") == []  # told already: no second post on everyone's phone
    assert group.do("999", "hallå?") == []
    clock.advance(minutes=11)
    assert group.do("999", "/nasta") == [refusal]
    with db.sessions() as session:
        assert session.scalars(select(AuditEvent.action)).all() == ["refused"] * 3


def test_the_queue_puts_urgent_first_then_promised_time_then_waiting(engine, db, group, clock):
    question = started(engine, address="1")
    question.press("Ställ en fråga")
    question.send("Hur funkar det?")
    clock.advance(minutes=10)
    call = started(engine, address="2")
    call.press("Bli uppringd")
    call.press(call.labels[0])
    call.send(kind="contact", phone="+46701234567")
    clock.advance(minutes=10)
    danger = started(engine, address="3")
    danger.send("han har en kniv och hotar mig")
    maybe = started(engine, address="5")
    maybe.send("dom sa ja har till fredag annars")  # might be danger: asked, and marked kolla
    with db.sessions() as session:
        kinds = [case.kind for case in queue(session)]
    assert kinds == ["danger", "danger", "call", "question"]  # the call is due today, the question on Thursday
    group.posts()
    (listing,) = group.do("111", "/ko")
    lines = listing.splitlines()
    assert lines[0] == "Kön: 4 otagna, 0 tagna, 4 väntar på svar från oss"
    assert lines[1].startswith("AKUT K-") and "fara" in lines[1]
    assert lines[2].startswith("KOLLA K-")
    assert "samtal" in lines[3] and "fråga" in lines[4]


def test_two_staff_pressing_claim_at_once_exactly_one_wins(engine, db, group):
    chat = started(engine, address="4")
    chat.press("Ställ en fråga")
    chat.send("Hej")
    code = case_by_kind(db, "question").code
    group.posts()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda who: group.engine.handle_staff(f"race-{who}", StaffAction(telegram_id=who, choice=f"claim:{code}")),
                      ["111", "222"]))  # fmt: skip
    posts = group.posts()
    assert sum(post.endswith(f"tog {code}.") for post in posts) == 1
    assert sum("är redan taget av" in post for post in posts) == 1


def test_next_gives_the_caller_the_top_case(engine, db, group):
    chat = started(engine, address="5")
    chat.send("jag vill dö")
    code = case_by_kind(db, "danger").code
    group.posts()
    posts = group.do("222", "/nasta")
    assert posts[0] == f"Omar tog {code}."
    assert posts[1].startswith(f"AKUT {code} fara, taget")


def test_an_answer_goes_back_to_the_person_signed_and_with_nothing_of_theirs_shown(engine, db, group):
    chat = started(engine, channel="sms", address="+46701112233")
    chat.press("Ställ en fråga")
    chat.send("Kan jag få hjälp med skulder?")
    code = case_by_kind(db, "question").code
    group.posts()
    (sent,) = group.do("111", f"/svara {code} Ja, det kan du. Vi hör av oss i morgon.")
    assert sent == f"Skickat till {code}. Personen fick:\nJa, det kan du. Vi hör av oss i morgon.\n- Sara, SIG"
    with db.sessions() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.target == "contact").order_by(OutboxItem.id.desc())).first()
        assert item.channel == "sms"
        from storage.models import Message

        assert session.get(Message, item.message_id).body == "Ja, det kan du. Vi hör av oss i morgon.\n- Sara, SIG"
    # the person writes back; it reaches the group under the code, not a menu
    (ack,) = chat.send("Tack! Passar efter tre.")
    assert ack == "Din kontaktperson har fått ditt meddelande.\nÄr du i fara: ring 112."
    (relayed,) = group.posts()
    assert relayed == f"{code} skriver (till Sara): Tack! Passar efter tre."
    for post in group.do("111", f"/arende {code}"):
        assert "46701112233" not in post and "0701112233" not in post


def test_replying_to_an_alert_in_telegram_answers_that_case(engine, db, group):
    chat = started(engine, address="6")
    chat.press("Ställ en fråga")
    chat.send("Vad kostar det?")
    case = case_by_kind(db, "question")
    with db.sessions.begin() as session:
        alert = session.scalar(select(OutboxItem).where(OutboxItem.case_id == case.id))
        alert.status, alert.provider_message_id = "sent", "777"
    group.posts()
    (sent,) = group.do("222", "Det kostar ingenting.", reply_to="777")
    assert sent == f"Skickat till {case.code}. Personen fick:\nDet kostar ingenting.\n- SIG"  # word for word
    assert case_by_kind(db, "question").assigned_staff_id is not None  # answering an open case takes it


def sent_as(db, case_id: int, provider_message_id: str, kind: str | None = None) -> None:
    """The newest staff post about the case went out as this Telegram message."""
    with db.sessions.begin() as session:
        post = session.scalars(select(OutboxItem).where(OutboxItem.case_id == case_id, OutboxItem.target == "staff_group")
                               .order_by(OutboxItem.id.desc())).first()  # fmt: skip
        post.status, post.provider_message_id = "sent", provider_message_id


def to_people(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.target == "contact"))


def test_a_reply_to_a_note_confirmation_stays_on_the_desk(engine, db, group):
    chat = started(engine, address="63")
    chat.press("Ställ en fråga")
    chat.send("Vad kostar det?")
    case = case_by_kind(db, "question")
    group.do("111", choice=f"claim:{case.code}")
    (saved,) = group.do("111", f"/notera {case.code} ringde i fredags")
    assert saved == f"Anteckningen är sparad på {case.code}. Den stannar här och går aldrig till personen."
    sent_as(db, case.id, "801")
    before = to_people(db)
    (refused,) = group.do("111", "obs han lät påverkad i fredags", reply_to="801")
    assert refused.startswith("Ditt svar skickades inte: bara svar på ett larm eller på något personen skrev")
    assert f"/svara {case.code}" in refused and f"/notera {case.code}" in refused
    assert to_people(db) == before


def test_a_reply_to_a_closed_case_or_a_colleagues_case_is_refused_and_says_why(engine, db, group):
    for address in ("64", "65"):
        chat = started(engine, address=address)
        chat.press("Ställ en fråga")
        chat.send("Vad kostar det?")
    with db.sessions() as session:
        first, second = session.scalars(select(Case).order_by(Case.id)).all()
    sent_as(db, first.id, "802")
    sent_as(db, second.id, "803")
    group.do("111", choice=f"claim:{first.code}")
    group.do("111", f"/avsluta {first.code} hänvisad")
    group.do("222", choice=f"claim:{second.code}")
    before = to_people(db)
    (closed,) = group.do("111", "Hej igen!", reply_to="802")
    assert closed == f"{first.code} är avslutat, så ditt svar skickades inte. Vill du spara det internt: /notera {first.code} och texten."
    (theirs,) = group.do("111", "Jag tar den här", reply_to="803")
    assert theirs.startswith(f"{second.code} tas av Omar, så ditt svar skickades inte. Be Omar lämna över det")
    (command,) = group.do("111", f"/svara {second.code} Hej")
    assert command.startswith(f"{second.code} tas av Omar, så ditt svar skickades inte.")
    assert to_people(db) == before


def test_a_reply_to_a_colleagues_own_message_is_their_talk_and_the_bot_stays_quiet(engine, db, group):
    assert group.do("111", "Ska vi ta lunch?", reply_to="9999") == []


def test_a_reply_to_a_post_that_joined_several_alerts_asks_which_case_and_sends_nothing(engine, db, group):
    for address in ("61", "62"):
        chat = started(engine, address=address)
        chat.press("Ställ en fråga")
        chat.send("Vad kostar det?")
    with db.sessions.begin() as session:
        for alert in session.scalars(select(OutboxItem).where(OutboxItem.target == "staff_group")):
            alert.status, alert.provider_message_id = "sent", "778"  # one post carried both alerts
        before = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.target == "contact"))
    group.posts()
    (asked,) = group.do("222", "Det kostar ingenting.", reply_to="778")
    assert asked.startswith("Det inlägget gäller flera ärenden, så svaret skickades inte.")
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.target == "contact")) == before


def test_a_consented_number_is_shown_only_on_request_and_that_is_audited(engine, db, group):
    chat = started(engine, address="7")
    chat.press("Bli uppringd")
    chat.press(chat.labels[0])
    chat.send(kind="contact", phone="+46701234567")
    code = case_by_kind(db, "call").code
    assert all("46701234567" not in post for post in group.posts())
    (refused,) = group.do("222", choice=f"number:{code}")
    assert refused == f"Bara den som har {code} kan se numret. Ta ärendet först."
    group.do("111", choice=f"claim:{code}")
    (not_omars,) = group.do("222", choice=f"number:{code}")
    assert not_omars == f"Bara den som har {code} kan se numret. Sara har ärendet."
    (told,) = group.do("111", choice=f"number:{code}")
    assert told.startswith(f"Sara: numret för {code} är skickat till dig i en privat chatt med boten")
    with db.sessions() as session:
        assert all("46701234567" not in json.loads(item.payload)["text"]
                   for item in session.scalars(select(OutboxItem).where(OutboxItem.target == "staff_group")))  # fmt: skip
        (private,) = session.scalars(select(OutboxItem).where(OutboxItem.target == "address")).all()
        assert json.loads(private.payload) == {"address": "111", "text": f"Nummer för {code}: +46701234567 (visningen loggas)"}
        (shown,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "number_shown")).all()
        assert shown.actor.endswith("Sara") and "4670" not in (shown.detail or "")


def test_a_call_is_claimed_then_reached_and_closed(engine, db, group):
    chat = started(engine, address="8")
    chat.press("Bli uppringd")
    chat.press(chat.labels[0])
    chat.send(kind="contact", phone="+46701234567")
    code = case_by_kind(db, "call").code
    group.do("222", choice=f"claim:{code}")
    posts = group.do("222", choice=f"call:{code}:reached")
    assert posts[-1] == f"{code} är avslutat: nådd."
    assert case_by_kind(db, "call").state == "closed"


def test_an_application_becomes_a_participant_then_closes_with_outcomes(engine, db, group):
    chat = started(engine, address="9")
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    chat.press("Ja")
    chat.press("Boende")
    chat.press("Klar")
    chat.press("Skicka")
    code = case_by_kind(db, "application").code
    group.do("111", f"/inskriv {code}")
    group.do("111", f"/notera {code} Första mötet bokat på torsdag")
    (closed,) = group.do("111", f"/avsluta {code} boende,inkomst")
    assert closed == f"{code} är avslutat: eget boende, inkomst."
    case = case_by_kind(db, "application")
    assert case.enrolled_at is not None and case.outcome == "housing+income"
    assert "Första mötet" in case.notes
    with db.sessions() as session:
        actions = [event.action for event in session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id))]
    assert actions == ["claimed", "enrolled", "noted", "closed"]


def test_release_and_hand_over(engine, db, group, team):
    chat = started(engine, address="10")
    chat.press("Ställ en fråga")
    chat.send("Hej?")
    code = case_by_kind(db, "question").code
    group.do("111", choice=f"claim:{code}")
    (refused,) = group.do("222", choice=f"release:{code}")
    assert refused == f"{code} är inte ditt. Det tas av Sara."
    (handed,) = group.do("111", choice=f"handto:{code}:{team['omar']}")
    assert handed == f"{code} lämnades över från Sara till Omar."
    (released,) = group.do("222", choice=f"release:{code}")
    assert released.startswith(f"Omar släppte {code}.")


def test_a_removed_staff_member_is_refused_on_their_next_action(engine, db, group):
    from storage.staff import find_staff

    with db.sessions.begin() as session:
        find_staff(session, "Omar").removed_at = group.engine.clock.now()
    (refusal,) = group.do("222", "/ko")
    assert "inte registrerad" in refusal


def test_the_same_update_twice_acts_once(engine, db, group):
    assert group.engine.handle_staff("dup", StaffAction(telegram_id="111", text="/ko"))
    assert not group.engine.handle_staff("dup", StaffAction(telegram_id="111", text="/ko"))


def test_an_outreach_worker_starts_a_conversation_by_sms_with_recorded_consent(engine, db, group):
    (sent,) = group.do("111", "/kontakta 070-555 12 34")
    assert sent.startswith("Välkomst-SMS:et är på väg.")
    with db.sessions() as session:
        from storage.models import ChannelIdentity, Contact, Message

        identity = session.scalar(select(ChannelIdentity))
        assert identity.channel == "sms" and identity.address == "+46705551234"
        assert session.scalar(select(Contact.source)) == "outreach"
        assert session.scalar(select(Message.body)).startswith("Hej! Det här är Utväg")
        consent = session.scalar(select(AuditEvent).where(AuditEvent.action == "outreach_consent"))
        assert consent.actor.endswith("Sara") and "46705551234" not in (consent.detail or "")
    assert group.do("111", "/kontakta nej")[0].startswith("Det ser inte ut som ett telefonnummer")


def test_every_mistake_says_what_was_wrong_and_what_to_type(engine, db, group):
    (missing,) = group.do("111", "/svara K-ZZZZ Hej")
    assert missing == "Det finns inget ärende K-ZZZZ. Kolla koden, eller skriv /ko för att se kön."
    (usage,) = group.do("111", "/svara hej")
    assert usage == "Skriv så här: /svara K-7F3A och sedan ditt svar."
    (near,) = group.do("111", "/svar K-ZZZZ Hej")
    assert near.startswith("Kommandot /svar finns inte. Menade du /svara? Kommandon: /ko, /mina, /nasta")
    (far,) = group.do("111", "/xyzzy")
    assert far.startswith("Kommandot /xyzzy finns inte. Kommandon: /ko")
    assert group.do("111", "/kö") == ["Kön är tom. Bra jobbat."]


def test_check_in_mistakes_are_told_in_swedish(engine, db, group):
    chat = started(engine, address="66")
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    chat.press("Ja")
    chat.press("Boende")
    chat.press("Klar")
    chat.press("Skicka")
    code = case_by_kind(db, "application").code
    group.do("111", f"/inskriv {code}")
    (weekday,) = group.do("111", f"/incheckning {code} varje månda 10:00")
    assert weekday.startswith("Jag känner inte igen veckodagen 'månda': skriv måndag, tisdag, onsdag")
    assert "Skriv så här: /incheckning K-7F3A varje måndag 10:00" in weekday
    (passed,) = group.do("111", f"/incheckning {code} 2026-11-30 10:00")
    assert passed.startswith("Den tiden har redan varit: välj en tid framåt. Skriv så här:")


def test_my_cases_lists_what_i_hold(engine, db, group):
    assert group.do("222", "/mina") == ["Du har inga ärenden just nu. Skriv /nasta för att ta nästa i kön."]
    chat = started(engine, address="67")
    chat.press("Ställ en fråga")
    chat.send("Vad kostar det?")
    code = case_by_kind(db, "question").code
    group.do("222", choice=f"claim:{code}")
    (mine,) = group.do("222", "/mina")
    assert mine.splitlines()[0] == "Dina ärenden (1):" and mine.splitlines()[1].startswith(f"{code} fråga")
    assert group.do("111", "/mina") == ["Du har inga ärenden just nu. Skriv /nasta för att ta nästa i kön."]


def test_the_queue_counts_untaken_taken_and_waiting_apart_and_an_answer_keeps_the_promise(engine, db, group, clock):
    chats = {}
    for address in ("70", "71", "72"):
        chats[address] = started(engine, address=address)
        chats[address].press("Ställ en fråga")
        chats[address].send("Vad kostar det?")
    with db.sessions() as session:
        answered, taken, untaken = session.scalars(select(Case.code).order_by(Case.id)).all()
    group.do("111", f"/svara {answered} Inget alls.")
    group.do("222", choice=f"claim:{taken}")
    clock.advance(days=3)  # every question's promise has passed
    (listing,) = group.do("111", "/ko")
    lines = listing.splitlines()
    assert lines[0] == "Kön: 1 otagna, 2 tagna, 2 väntar på svar från oss"
    line = {code: next(text for text in lines if code in text) for code in (answered, taken, untaken)}
    assert "FÖRSENAT" not in line[answered] and "VÄNTAR" not in line[answered]  # answered: a promise kept
    assert "FÖRSENAT" in line[taken] and "tas av Omar" in line[taken]
    assert "VÄNTAR PÅ SVAR" in line[taken] and "VÄNTAR PÅ SVAR" in line[untaken]
    chats["70"].send("Tack! En fråga till.")
    (listing,) = group.do("111", "/ko")[-1:]
    assert listing.splitlines()[0] == "Kön: 1 otagna, 2 tagna, 3 väntar på svar från oss"
