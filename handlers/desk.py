"""The staff workspace: commands and buttons from the staff group, acted on in one transaction, audited."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz
from rapidfuzz.process import extractOne
from sqlalchemy import case as sql_case
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from handlers import checkins, incident, schedule
from handlers.catalogue import Catalogue
from handlers.profile import Profile
from handlers.timers import promise_kept
from storage.contacts import find_or_create_identity
from storage.crypto import normalise_phone
from storage.models import (
    AuditAction,
    AuditEvent,
    Case,
    CaseDetails,
    CaseKind,
    CaseState,
    CheckinSchedule,
    CheckinState,
    Contact,
    Conversation,
    ConversationState,
    Message,
    OutboxItem,
    Outcome,
    Staff,
)
from storage.outbox import ALERT, ANSWERABLE, EDIT, RELAYED, last_reached_on, queue_to_contact, queue_to_staff
from storage.staff import audit, staff_by_telegram

REFUSE_AGAIN_AFTER = timedelta(minutes=10)  # one public refusal of someone outside the team per this long
CODE = re.compile(r"\bK-[0-9A-Z]{4,6}\b", re.IGNORECASE)
OUTCOMES = (Outcome.HOUSING, Outcome.INCOME, Outcome.OCCUPATION, Outcome.REFERRED, Outcome.WITHDREW, Outcome.NO_CONTACT)
CALL_OUTCOMES = (Outcome.REACHED, Outcome.NO_ANSWER, Outcome.NEW_TIME)
OUTCOME_WORDS = {"boende": Outcome.HOUSING, "inkomst": Outcome.INCOME, "syssel": Outcome.OCCUPATION,
                 "sysselsättning": Outcome.OCCUPATION, "hänvisad": Outcome.REFERRED, "avböjde": Outcome.WITHDREW,
                 "ingen-kontakt": Outcome.NO_CONTACT}  # fmt: skip


@dataclass(frozen=True)
class StaffAction:
    """What a person in the staff group did: wrote a command or reply, or pressed a button."""

    telegram_id: str
    text: str = ""
    choice: str | None = None
    reply_to: str | None = None  # the bot's message they replied to, by Telegram message id
    message_id: str | None = None  # their own message (a command, a reply): what the bot's answer to it replies to
    private: bool = False  # written in their own private chat with the bot, not in the staff group


@dataclass
class Desk:
    session: Session
    catalogue: Catalogue
    profile: Profile
    now: datetime
    staff: Staff
    answering: str | None = None  # the worker's own message: the desk's answers reply to it, addressed to them

    def t(self, key: str, **values: object) -> str:
        return self.catalogue.text(self.staff.language, key, **values)

    def post(self, text: str, options: list[tuple[str, str]] | None = None, case: Case | None = None) -> None:
        queue_to_staff(self.session, text=text, now=self.now, options=options or [], case_id=case.id if case else None,
                       contact_id=case.contact_id if case else None, answers=self.answering)  # fmt: skip

    def audit(self, action: AuditAction, case: Case | None = None, detail: str | None = None) -> None:
        audit(self.session, actor=f"staff:{self.staff.id}:{self.staff.name}", action=action, now=self.now,
              case_id=case.id if case else None, detail=detail)  # fmt: skip


def handle_staff(session: Session, catalogue: Catalogue, profile: Profile, now: datetime, action: StaffAction) -> None:
    staff = staff_by_telegram(session, action.telegram_id)
    if staff is None:
        # Someone outside the team: their commands and presses are refused, in the group once in a while, not at every
        # message (their chatter is not ours to answer, and each refusal is one more post on every worker's phone).
        if not (action.choice or action.text.startswith("/") or action.reply_to):
            return
        recently = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == AuditAction.REFUSED, AuditEvent.at > now - REFUSE_AGAIN_AFTER))  # fmt: skip
        audit(session, actor="unregistered", action=AuditAction.REFUSED, now=now, detail="not registered staff")
        if not recently:
            queue_to_staff(session, text=catalogue.text("sv", "staff.refused"), now=now)
        return
    desk = Desk(session, catalogue, profile, now, staff, answering=action.message_id)
    if action.private:
        # Their private chat only carries what is for them alone (a number they asked for); the work is in the group.
        write_privately(desk, desk.t("staff.private_chat"))
        desk.audit(AuditAction.PRIVATE_CHAT)
        return
    if action.choice:
        _button(desk, action.choice)
    elif action.text.startswith("/"):
        _command(desk, action.text)
    elif action.reply_to:
        answer_post(desk, action.reply_to, action.text)


def answer_post(desk: Desk, provider_message_id: str, text: str) -> None:
    """A reply in Telegram to one of the bot's posts. Only a reply to an alert or to what a person wrote may reach
    them: a reply to anything else the bot posted (a note's confirmation, a queue) is refused, never relayed. A reply
    to a colleague's message is their conversation, not ours: nothing happens."""
    posts = desk.session.execute(select(OutboxItem.case_id, OutboxItem.kind).where(
        OutboxItem.target == "staff_group", OutboxItem.provider_message_id == provider_message_id)).all()  # fmt: skip
    if not posts:
        return
    answerable = {case_id for case_id, kind in posts if case_id is not None and kind in ANSWERABLE}
    if len(answerable) > 1:
        desk.post(desk.t("staff.reply_which"))
        return
    case = desk.session.get(Case, answerable.pop()) if answerable else None
    if case is None:
        about = {case_id for case_id, _ in posts if case_id is not None}
        code = desk.session.scalar(select(Case.code).where(Case.id == about.pop())) if len(about) == 1 else None
        desk.post(desk.t("staff.reply_not_answerable", code=code or "K-7F3A"))
        return
    relay(desk, case, text)


# Every command and the words it answers to; the first is the one staff are shown. A Swede types "kö", "nästa".
COMMANDS = {
    "queue": ("/ko", "/kö", "/queue"), "mine": ("/mina", "/mine"), "next": ("/nasta", "/nästa", "/next"),
    "case": ("/arende", "/ärende", "/case"), "reply": ("/svara", "/reply"), "note": ("/notera", "/note"),
    "enrol": ("/inskriv", "/enrol", "/enroll"), "area": ("/omrade", "/område", "/area"), "checkin": ("/incheckning", "/checkin"),
    "incident": ("/incident", "/händelse"), "contact": ("/kontakta", "/contact"), "close": ("/avsluta", "/close"),
}  # fmt: skip
NEEDS_CODE = ("case", "reply", "note", "enrol", "area", "checkin", "close")


def _command(desk: Desk, text: str) -> None:
    word, _, rest = text.strip().partition(" ")
    word = word.split("@", 1)[0].lower()  # /ko@utvag_bot in groups
    command = next((name for name, words in COMMANDS.items() if word in words), None)
    code_match = CODE.search(rest)
    case = _case(desk.session, code_match.group(0)) if code_match else None
    after_code = rest[code_match.end():].strip() if code_match else rest.strip()
    if command is None:
        _unknown_command(desk, word)
    elif command in NEEDS_CODE and code_match and case is None:
        _unknown_case(desk, code_match.group(0))  # a code that looks right but is no case: say so, not how to write it
    elif command == "queue":
        show_queue(desk)
    elif command == "mine":
        show_mine(desk)
    elif command == "next":
        take_next(desk)
    elif command == "case":
        show_case(desk, case) if case else desk.post(desk.t("staff.usage_case"))
    elif command == "reply":
        if case is None or not after_code:
            desk.post(desk.t("staff.usage_reply"))
        else:
            relay(desk, case, after_code)
    elif command == "note":
        if case is None or not after_code:
            desk.post(desk.t("staff.usage_note"))
        else:
            add_note(desk, case, after_code)
    elif command == "enrol":
        enrol(desk, case, after_code or None) if case else desk.post(desk.t("staff.usage_enrol"))
    elif command == "area":
        set_area(desk, case, after_code) if case else _unknown_case(desk, rest)
    elif command == "checkin":
        set_checkin(desk, case, after_code) if case else desk.post(desk.t("staff.checkin.usage", problem=""))
    elif command == "incident":
        area = desk.profile.unit.area_named(rest) if rest.strip() else None
        if rest.strip() and area is None:
            desk.post(desk.t("staff.area.unknown", areas=", ".join(desk.profile.unit.areas)))
            return
        incident.preview(desk.session, desk.catalogue, desk.staff.id, area, desk.now)
        desk.audit(AuditAction.INCIDENT_PREVIEW, detail=f"area {area}" if area else "all participants")
    elif command == "contact":
        start_outreach_contact(desk, rest)
    elif command == "close":
        if case is None:
            desk.post(desk.t("staff.usage_close"))
        elif after_code:
            close(desk, case, _outcome_from_words(after_code))
        else:
            desk.post(desk.t("staff.close_pick", code=case.code), _outcome_buttons(desk, case), case)


def _unknown_command(desk: Desk, word: str) -> None:
    """What was typed, the nearest command if it is a near miss ("/svar", "/notra"), and every command."""
    words = [spelling for spellings in COMMANDS.values() for spelling in spellings]
    near = extractOne(word, words, scorer=fuzz.ratio, score_cutoff=60)
    suggestion = desk.t("staff.did_you_mean", command=near[0]) if near else ""
    desk.post(desk.t("staff.unknown_command", command=word[:30], suggestion=suggestion, commands=desk.t("staff.commands")))


def is_row_id(text: str) -> bool:
    """Digits a database id can hold: a forged button with a longer number is unknown, not an overflow."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def _button(desk: Desk, choice: str) -> None:
    verb, _, rest = choice.partition(":")
    code, _, argument = rest.partition(":")
    if verb == "incident" and is_row_id(code):
        incident.decide(desk.session, desk.catalogue, int(code), argument == "confirm", desk.now)
        action = AuditAction.INCIDENT_CONFIRMED if argument == "confirm" else AuditAction.INCIDENT_CANCELLED
        desk.audit(action, detail=f"incident {code}")
        return
    case = _case(desk.session, code)
    if case is None:
        _unknown_case(desk, code)
        return
    if verb == "claim":
        claim(desk, case)
    elif verb == "ack":
        acknowledge(desk, case)
    elif verb == "release":
        release(desk, case)
    elif verb == "handover":
        others = [staff for staff in _colleagues(desk) if staff.id != desk.staff.id]
        desk.post(desk.t("staff.handover_pick", code=case.code), [(f"handto:{case.code}:{s.id}", s.name) for s in others], case)
    elif verb == "handto" and is_row_id(argument):
        hand_over(desk, case, int(argument))
    elif verb == "number":
        show_number(desk, case)
    elif verb == "call":
        call_outcome(desk, case, argument)
    elif verb == "close":
        close(desk, case, [argument] if argument in OUTCOMES else [])
    elif verb == "area" and is_row_id(argument) and int(argument) < len(desk.profile.unit.areas):
        set_area(desk, case, desk.profile.unit.areas[int(argument)])


# --- the queue -------------------------------------------------------------------------------------


def queue(session: Session) -> list[Case]:
    """Urgent first, then "kolla" (might be danger), then what was promised soonest, then who has waited longest."""
    return list(session.scalars(
        select(Case).where(Case.state != CaseState.CLOSED)
        .order_by(Case.urgent.desc(), sql_case((Case.check_asked_at.is_(None), 1), else_=0),
                  sql_case((Case.due_at.is_(None), 1), else_=0), Case.due_at, Case.created_at, Case.id)
    ))  # fmt: skip


def show_queue(desk: Desk) -> None:
    cases = queue(desk.session)
    if not cases:
        desk.post(desk.t("staff.queue_empty"))
        return
    waiting = waiting_for_us(desk.session, cases)
    taken = sum(case.state == CaseState.CLAIMED for case in cases)
    title = desk.t("staff.queue_title", open=len(cases) - taken, taken=taken, waiting=len(waiting))
    lines = [title] + [_line(desk, case, case.id in waiting) for case in cases[:30]]
    buttons = [(f"claim:{case.code}", f"{desk.t('staff.claim')} {case.code}") for case in cases if case.state == CaseState.OPEN][:5]
    desk.post("\n".join(lines), buttons)


def show_mine(desk: Desk) -> None:
    """The cases this worker holds, in queue order: what they have promised to do."""
    mine = [case for case in queue(desk.session) if case.state == CaseState.CLAIMED and case.assigned_staff_id == desk.staff.id]
    if not mine:
        desk.post(desk.t("staff.mine_empty"))
        return
    desk.post("\n".join([desk.t("staff.mine_title", count=len(mine))] + [_line(desk, case) for case in mine[:30]]))


def take_next(desk: Desk) -> None:
    for case in queue(desk.session):
        if case.state == CaseState.OPEN and _claim(desk, case):
            desk.post(desk.t("staff.claimed", name=desk.staff.name, code=case.code), case=case)
            show_case(desk, case)
            return
    desk.post(desk.t("staff.next_none"))


def show_case(desk: Desk, case: Case) -> None:
    desk.audit(AuditAction.VIEWED, case)
    card = desk.t("staff.case_card", flag=_flag(case), code=case.code, kind=desk.t(f"staff.kind.{case.kind}"),
                  state=desk.t(f"staff.state.{case.state}"), waited=_waited(desk, case), due=_due(desk, case),
                  summary=case.summary or "-", who=_who(desk, case),
                  area=desk.t("staff.area.card", area=area) if (area := area_of(case)) else "")  # fmt: skip
    buttons = [(f"claim:{case.code}", desk.t("staff.claim"))] if case.state == CaseState.OPEN else [
        (f"release:{case.code}", desk.t("staff.release")), (f"handover:{case.code}", desk.t("staff.handover"))]
    if _phone(case) and case.state == CaseState.CLAIMED:
        buttons.append((f"number:{case.code}", desk.t("staff.show_number")))  # only the holder's press shows it
    if case.kind == CaseKind.CALL and case.state == CaseState.CLAIMED:
        buttons += [(f"call:{case.code}:{outcome}", desk.t(f"staff.{outcome}")) for outcome in ("reached", "no_answer", "new_time")]
    desk.post(card, buttons, case)


# --- claiming ---------------------------------------------------------------------------------------


def _claim(desk: Desk, case: Case) -> bool:
    """Exactly one of two staff pressing at once wins: the row changes only while it is still open."""
    won = desk.session.execute(
        update(Case).where(Case.id == case.id, Case.state == CaseState.OPEN)
        .values(state=CaseState.CLAIMED, assigned_staff_id=desk.staff.id, claimed_at=desk.now, acknowledged_at=desk.now,
                updated_at=desk.now)
        .execution_options(synchronize_session=False)
    ).rowcount == 1  # fmt: skip
    desk.session.refresh(case)
    if won:
        desk.audit(AuditAction.CLAIMED, case)
        refresh_alerts(desk, case)
    return won


def refresh_alerts(desk: Desk, case: Case) -> None:
    """The case's alerts in the group say who has it now, and offer Ta ärendet only while nobody has: they are edited in
    place, so the group shows state instead of a stale offer. A post that joined several alerts is left as it is."""
    alerts = desk.session.scalars(select(OutboxItem).where(
        OutboxItem.case_id == case.id, OutboxItem.target == "staff_group", OutboxItem.kind == ALERT,
        OutboxItem.status == "sent", OutboxItem.provider_message_id.is_not(None)).order_by(OutboxItem.id)).all()  # fmt: skip
    holder = desk.session.get(Staff, case.assigned_staff_id) if case.state == CaseState.CLAIMED and case.assigned_staff_id else None
    status = (desk.t("staff.alert_taken", name=holder.name) if holder else
              desk.t("staff.alert_closed") if case.state == CaseState.CLOSED else "")  # fmt: skip
    for alert in alerts:
        shared = desk.session.scalar(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.provider_message_id == alert.provider_message_id, OutboxItem.target == "staff_group",
            OutboxItem.kind.in_(ANSWERABLE)))  # fmt: skip
        if shared != 1:
            continue
        original = json.loads(alert.payload or "{}")
        options = [] if status else [tuple(option) for option in original.get("options", [])]
        queue_to_staff(desk.session, text=original.get("text", "") + (f"\n{status}" if status else ""), now=desk.now,
                       options=options, case_id=case.id, contact_id=case.contact_id, kind=EDIT,
                       replaces=alert.provider_message_id)  # fmt: skip


def claim(desk: Desk, case: Case) -> None:
    if _claim(desk, case):
        desk.post(desk.t("staff.claimed", name=desk.staff.name, code=case.code), case=case)
        show_case(desk, case)
    else:
        holder = desk.session.get(Staff, case.assigned_staff_id) if case.assigned_staff_id else None
        desk.post(desk.t("staff.already_claimed", code=case.code, name=holder.name if holder else "-"), case=case)


def acknowledge(desk: Desk, case: Case) -> None:
    desk.session.execute(update(Case).where(Case.id == case.id, Case.acknowledged_at.is_(None)).values(acknowledged_at=desk.now))
    desk.audit(AuditAction.ACKNOWLEDGED, case)
    desk.post(desk.t("staff.acknowledged", name=desk.staff.name, code=case.code), case=case)
    if case.state == CaseState.OPEN:
        _claim(desk, case)


def release(desk: Desk, case: Case) -> None:
    if not _is_mine(desk, case):
        return
    case.state, case.assigned_staff_id, case.updated_at = CaseState.OPEN, None, desk.now
    desk.audit(AuditAction.RELEASED, case)
    refresh_alerts(desk, case)
    desk.post(desk.t("staff.released", name=desk.staff.name, code=case.code), case=case)


def hand_over(desk: Desk, case: Case, staff_id: int) -> None:
    new = desk.session.get(Staff, staff_id)
    if new is None or new.removed_at is not None or not _is_mine(desk, case):
        return
    case.assigned_staff_id, case.updated_at = new.id, desk.now
    desk.audit(AuditAction.HANDED_OVER, case, detail=f"to staff:{new.id}")
    refresh_alerts(desk, case)
    desk.post(desk.t("staff.handed_over", code=case.code, old=desk.staff.name, new=new.name), case=case)


def _is_mine(desk: Desk, case: Case) -> bool:
    if case.state == CaseState.CLAIMED and case.assigned_staff_id == desk.staff.id:
        return True
    holder = desk.session.get(Staff, case.assigned_staff_id) if case.assigned_staff_id else None
    desk.post(desk.t("staff.not_yours", code=case.code, name=holder.name if holder else "-"), case=case)
    return False


# --- talking to the person ----------------------------------------------------------------------------


def relay(desk: Desk, case: Case, text: str) -> None:
    """The person receives it on their own channel, signed by the unit; never with anything of the worker's. Only on
    an open case (taken by answering) or one the worker holds: a closed case or a colleague's gets nothing, and the
    worker is told why. The confirmation quotes what the person got, word for word."""
    if case.state == CaseState.CLOSED:
        desk.post(desk.t("staff.relay_closed", code=case.code), case=case)
        return
    if (case.state == CaseState.OPEN and not _claim(desk, case)) or case.assigned_staff_id != desk.staff.id:
        holder = desk.session.get(Staff, case.assigned_staff_id) if case.assigned_staff_id else None
        desk.post(desk.t("staff.relay_not_yours", code=case.code, name=holder.name if holder else "-"), case=case)
        return
    reached = last_reached_on(desk.session, case.contact_id) if case.contact_id else None
    if reached is None:
        desk.post(desk.t("staff.relay_failed", code=case.code), case=case)
        return
    identity_id, channel = reached
    signoff = desk.t("staff.signoff", name=desk.staff.signoff) if desk.staff.signoff else desk.t("staff.signoff_unit")
    sent = f"{text.strip()}\n{signoff}"
    queue_to_contact(desk.session, contact_id=case.contact_id, identity_id=identity_id, channel=channel, text=sent, now=desk.now)
    if case.kind == CaseKind.QUESTION:
        case.outcome = Outcome.ANSWERED
    case.updated_at = desk.now
    desk.audit(AuditAction.REPLIED, case)
    desk.post(desk.t("staff.relayed", code=case.code, text=sent), case=case)


def may_see_number(desk: Desk, case: Case) -> str | None:
    """None if this worker may see the case's number (they hold it); otherwise the sentence that says why not."""
    if case.state == CaseState.CLAIMED and case.assigned_staff_id == desk.staff.id:
        return None
    holder = desk.session.get(Staff, case.assigned_staff_id) if case.state == CaseState.CLAIMED and case.assigned_staff_id else None
    why = desk.t("staff.number_holder", name=holder.name) if holder else desk.t("staff.number_take_first")
    return desk.t("staff.number_not_yours", code=case.code, holder=why)


def reveal_number(desk: Desk, case: Case, audited_as: str = "on the dashboard") -> str:
    """The consented number as a sentence for the holder alone; every reveal is audited (where to, never the number)."""
    phone = _phone(case)
    desk.audit(AuditAction.NUMBER_SHOWN, case, detail=audited_as)
    return desk.t("staff.number", code=case.code, phone=phone) if phone else desk.t("staff.no_number", code=case.code)


def show_number(desk: Desk, case: Case) -> None:
    """The number never goes into the group, where it would stay on every member's phone: the bot writes it to the
    holder privately, in a delivery whose payload is wiped once it is sent (bot/dispatcher.py, target "address")."""
    refusal = may_see_number(desk, case)
    if refusal is not None:
        desk.post(refusal, case=case)
        return
    if not _phone(case):
        desk.post(desk.t("staff.no_number", code=case.code), case=case)
        return
    write_privately(desk, reveal_number(desk, case, audited_as="sent privately to the holder"), case)
    desk.post(desk.t("staff.number_sent", name=desk.staff.name, code=case.code), case=case)


def write_privately(desk: Desk, text: str, case: Case | None = None) -> None:
    """A message from the bot to this worker's own Telegram chat, in a delivery whose payload is wiped once sent."""
    desk.session.add(OutboxItem(channel="telegram", lane=0, target="address", case_id=case.id if case else None,
                                status="pending", attempts=0, payload=json.dumps({"address": desk.staff.telegram_id, "text": text}),
                                next_attempt_at=desk.now, created_at=desk.now))  # fmt: skip


def add_note(desk: Desk, case: Case, note: str) -> None:
    stamp = desk.now.strftime("%Y-%m-%d %H:%M")
    case.notes = ((case.notes + "\n") if case.notes else "") + f"[{stamp} {desk.staff.name}] {note.strip()}"
    case.updated_at = desk.now
    desk.audit(AuditAction.NOTED, case)
    desk.post(desk.t("staff.note_saved", code=case.code), case=case)


# --- outreach ------------------------------------------------------------------------------------------


def start_outreach_contact(desk: Desk, number: str) -> None:
    """Someone met in person agreed there and then: we write first, by SMS, and record who asked and when."""
    try:
        phone = normalise_phone(number)
    except ValueError:
        desk.post(desk.t("staff.outreach.bad_number"))
        return
    identity = find_or_create_identity(desk.session, "sms", phone, desk.now, source="outreach")
    contact = desk.session.get(Contact, identity.contact_id)
    assert contact is not None
    contact.language = contact.language or "sv"
    text = desk.catalogue.text(contact.language, "outreach.welcome")
    queue_to_contact(desk.session, contact_id=contact.id, identity_id=identity.id, channel="sms", text=text, now=desk.now)
    conversation = desk.session.get(Conversation, contact.id)
    if conversation is not None and conversation.state == ConversationState.NEW:
        conversation.state, conversation.updated_at = ConversationState.MENU, desk.now
    desk.audit(AuditAction.OUTREACH_CONSENT, detail=f"contact by SMS, consent given in person to staff:{desk.staff.id}")
    desk.post(desk.t("staff.outreach.sent"))


# --- check-ins ------------------------------------------------------------------------------------------


def set_checkin(desk: Desk, case: Case, words: str) -> None:
    row = desk.session.scalar(select(CheckinSchedule).where(CheckinSchedule.case_id == case.id))
    command = words.strip().lower()
    if command in ("paus", "pausa", "pause", "stopp", "stop", "fortsätt", "resume") and row is None:
        desk.post(desk.t("staff.checkin.none", code=case.code), case=case)
        return
    if command in ("paus", "pausa", "pause"):
        row.state = CheckinState.PAUSED
        desk.post(desk.t("staff.checkin.paused", code=case.code), case=case)
    elif command in ("stopp", "stop"):
        row.state = CheckinState.STOPPED
        desk.post(desk.t("staff.checkin.stopped", code=case.code), case=case)
    elif command in ("fortsätt", "resume"):
        row.state = CheckinState.ACTIVE
        row.next_due_at = schedule.next_due(json.loads(row.rule), desk.now, desk.profile)
        desk.post(desk.t("staff.checkin.resumed", code=case.code, next=_when(desk, row.next_due_at)), case=case)
    else:
        if case.enrolled_at is None:
            desk.post(desk.t("staff.checkin.not_participant", code=case.code), case=case)
            return
        try:
            rule = schedule.parse_rule(words, desk.now, desk.profile)
        except schedule.RuleError as exc:
            desk.post(desk.t("staff.checkin.usage", problem=f"{exc} "), case=case)
            return
        row = checkins.set_schedule(desk.session, case, rule, desk.now, desk.profile)
        desk.post(desk.t("staff.checkin.set", code=case.code, rule=schedule.describe(rule), next=_when(desk, row.next_due_at)), case=case)
    desk.audit(AuditAction.CHECKIN_SCHEDULE, case, detail=command[:60] if command in ("paus", "pausa", "pause", "stopp", "stop", "fortsätt",
                                                                            "resume") else "set")  # fmt: skip


def _when(desk: Desk, moment: datetime | None) -> str:
    return moment.astimezone(desk.profile.office_hours.zone).strftime("%Y-%m-%d %H:%M") if moment else "-"


# --- outcomes -------------------------------------------------------------------------------------------


def call_outcome(desk: Desk, case: Case, outcome: str) -> None:
    if outcome not in CALL_OUTCOMES or not _is_mine(desk, case):
        return
    desk.audit(AuditAction.CALL_OUTCOME, case, detail=outcome)
    if outcome == Outcome.NEW_TIME:
        case.state, case.due_at = CaseState.OPEN, None
        _ask_for_new_time(desk, case)
        desk.post(desk.t("staff.call_new_time", code=case.code), case=case)
        return
    desk.post(desk.t("staff.call_outcome", code=case.code, outcome=desk.t(f"staff.outcome.{outcome}")), case=case)
    if outcome == Outcome.REACHED:
        close(desk, case, [Outcome.REACHED])
    else:
        case.outcome, case.updated_at = Outcome.NO_ANSWER, desk.now


def _ask_for_new_time(desk: Desk, case: Case) -> None:
    reached = last_reached_on(desk.session, case.contact_id) if case.contact_id else None
    contact = desk.session.get(Contact, case.contact_id) if case.contact_id else None
    if reached is not None and contact is not None:
        language = contact.language or desk.catalogue.default_language
        text = desk.catalogue.text(language, "call.no_answer_retry")
        queue_to_contact(desk.session, contact_id=contact.id, identity_id=reached[0], channel=reached[1], text=text,
                         now=desk.now, options=[("menu:call", desk.catalogue.text(language, "menu.call"))])  # fmt: skip


def enrol(desk: Desk, case: Case, area: str | None = None) -> None:
    """A participant from now on; with their area if staff named it, else staff are asked for it with a button each."""
    if case.kind != CaseKind.APPLICATION:
        desk.post(desk.t("staff.not_application", code=case.code, kind=desk.t(f"staff.kind.{case.kind}")), case=case)
        return
    case.enrolled_at, case.updated_at = desk.now, desk.now
    if case.state == CaseState.OPEN:
        _claim(desk, case)
    desk.audit(AuditAction.ENROLLED, case)
    if area:
        desk.post(desk.t("staff.enrolled", code=case.code), case=case)
        set_area(desk, case, area)
    elif area_of(case):
        desk.post(desk.t("staff.enrolled", code=case.code), case=case)
    else:
        text = desk.t("staff.enrolled", code=case.code) + " " + desk.t("staff.area.ask", code=case.code)
        desk.post(text, _area_buttons(desk, case), case)


def set_area(desk: Desk, case: Case, typed: str) -> None:
    """Record where a participant lives, from the unit's list, so an outreach to that area reaches them."""
    area = desk.profile.unit.area_named(typed)
    if case.kind != CaseKind.APPLICATION:
        desk.post(desk.t("staff.area.not_application", code=case.code, kind=desk.t(f"staff.kind.{case.kind}")), case=case)
        return
    if area is None:
        desk.post(desk.t("staff.area.unknown", areas=", ".join(desk.profile.unit.areas)), _area_buttons(desk, case), case)
        return
    case.details = dataclasses.replace(CaseDetails.of(case.details), area=area).dumps()
    case.updated_at = desk.now
    desk.audit(AuditAction.AREA_SET, case)  # not which area: the audit holds no personal data
    desk.post(desk.t("staff.area.set", code=case.code, area=area), case=case)


def area_of(case: Case) -> str | None:
    """The area staff recorded for the person of this case, if any."""
    return CaseDetails.of(case.details).area


def _area_buttons(desk: Desk, case: Case) -> list[tuple[str, str]]:
    return [(f"area:{case.code}:{n}", name) for n, name in enumerate(desk.profile.unit.areas)]


def close(desk: Desk, case: Case, outcomes: list[str]) -> None:
    if not outcomes:
        desk.post(desk.t("staff.close_pick", code=case.code), _outcome_buttons(desk, case), case)
        return
    case.state, case.outcome, case.closed_at, case.updated_at = CaseState.CLOSED, "+".join(outcomes), desk.now, desk.now
    desk.audit(AuditAction.CLOSED, case, detail=case.outcome)
    refresh_alerts(desk, case)
    words = ", ".join(desk.t(f"staff.outcome.{outcome}") for outcome in outcomes)
    desk.post(desk.t("staff.closed", code=case.code, outcome=words), case=case)


def _outcome_buttons(desk: Desk, case: Case) -> list[tuple[str, str]]:
    return [(f"close:{case.code}:{outcome}", desk.t(f"staff.outcome.{outcome}")) for outcome in OUTCOMES]


def _outcome_from_words(text: str) -> list[str]:
    found = []
    for word in re.split(r"[\s,]+", text.lower()):
        outcome = OUTCOME_WORDS.get(word) or (word if word in OUTCOMES else None)
        if outcome and outcome not in found:
            found.append(outcome)
    return found


# --- helpers -------------------------------------------------------------------------------------------


def _case(session: Session, code: str) -> Case | None:
    return session.scalar(select(Case).where(Case.code == code.upper().strip()))


def _unknown_case(desk: Desk, text: str) -> None:
    desk.post(desk.t("staff.unknown_case", code=(text.strip() or "?")[:12]))


def _colleagues(desk: Desk) -> list[Staff]:
    return list(desk.session.scalars(select(Staff).where(Staff.removed_at.is_(None)).order_by(Staff.name)))


def _phone(case: Case) -> str | None:
    return CaseDetails.of(case.details).phone


def _flag(case: Case) -> str:
    return "AKUT " if case.urgent else "KOLLA " if case.check_asked_at is not None else ""


def _waited(desk: Desk, case: Case) -> str:
    return humanise(desk.now - case.created_at)


def _due(desk: Desk, case: Case) -> str:
    if case.due_at is None or (case.kind != CaseKind.CALL and promise_kept(case)):
        return ""  # once the person has been answered (or taken, or acknowledged) no promise is left to break
    if is_overdue(case, desk.now):
        return desk.t("staff.overdue")
    local = case.due_at.astimezone(desk.profile.office_hours.zone)
    return desk.t("staff.due", when=local.strftime("%d/%m %H:%M"))


def is_overdue(case: Case, now: datetime) -> bool:
    """FÖRSENAT: its time has passed and what was promised is not done (an answered question is not late)."""
    kept = case.kind != CaseKind.CALL and promise_kept(case)
    return case.due_at is not None and case.due_at < now and case.state != CaseState.CLOSED and not kept


def _who(desk: Desk, case: Case) -> str:
    if case.assigned_staff_id is None:
        return ""
    holder = desk.session.get(Staff, case.assigned_staff_id)
    return desk.t("staff.taken_by", name=holder.name) if holder else ""


def _line(desk: Desk, case: Case, waiting: bool = False) -> str:
    who = _who(desk, case) + (desk.t("staff.waiting_mark") if waiting else "")
    return desk.t("staff.queue_line", flag=_flag(case), code=case.code, kind=desk.t(f"staff.kind.{case.kind}"),
                  waited=_waited(desk, case), due=_due(desk, case), who=who)  # fmt: skip


def waiting_for_us(session: Session, cases: list[Case]) -> set[int]:
    """The cases whose person has written since staff last answered them (or never been answered): waiting for us."""
    contacts = {case.contact_id for case in cases if case.contact_id}
    last_in = dict(session.execute(select(Message.contact_id, func.max(Message.created_at)).where(
        Message.contact_id.in_(contacts), Message.direction == "in").group_by(Message.contact_id)).all())  # fmt: skip
    answered = dict(session.execute(select(AuditEvent.case_id, func.max(AuditEvent.at)).where(
        AuditEvent.case_id.in_([case.id for case in cases]), AuditEvent.action == "replied")
        .group_by(AuditEvent.case_id)).all())  # fmt: skip
    return {case.id for case in cases if case.contact_id in last_in
            and (case.id not in answered or last_in[case.contact_id] > answered[case.id])}  # fmt: skip


def humanise(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def relay_from_client(session: Session, catalogue: Catalogue, case: Case, text: str, now: datetime) -> None:
    """What the person writes on a claimed case reaches the staff group under the case's code."""
    holder = session.get(Staff, case.assigned_staff_id) if case.assigned_staff_id else None
    to = catalogue.text("sv", "staff.to_worker", name=holder.name) if holder else ""
    body = text.strip()
    body = body if len(body) <= 1500 else body[:1499] + "…"
    queue_to_staff(session, text=catalogue.text("sv", "staff.from_client", code=case.code, to=to, text=body), now=now,
                   case_id=case.id, contact_id=case.contact_id, kind=RELAYED)  # fmt: skip
