"""The staff workspace: commands and buttons from the staff group, acted on in one transaction, audited."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case as sql_case
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handlers import checkins, incident, schedule
from handlers.catalogue import Catalogue
from handlers.profile import Profile
from storage.contacts import find_or_create_identity
from storage.crypto import normalise_phone
from storage.models import (
    AuditAction,
    Case,
    CaseDetails,
    CaseKind,
    CaseState,
    CheckinSchedule,
    CheckinState,
    Contact,
    Conversation,
    ConversationState,
    OutboxItem,
    Outcome,
    Staff,
)
from storage.outbox import last_reached_on, queue_to_contact, queue_to_staff
from storage.staff import audit, staff_by_telegram

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


@dataclass
class Desk:
    session: Session
    catalogue: Catalogue
    profile: Profile
    now: datetime
    staff: Staff

    def t(self, key: str, **values: object) -> str:
        return self.catalogue.text(self.staff.language, key, **values)

    def post(self, text: str, options: list[tuple[str, str]] | None = None, case: Case | None = None) -> None:
        queue_to_staff(self.session, text=text, now=self.now, options=options or [], case_id=case.id if case else None,
                       contact_id=case.contact_id if case else None)  # fmt: skip

    def audit(self, action: AuditAction, case: Case | None = None, detail: str | None = None) -> None:
        audit(self.session, actor=f"staff:{self.staff.id}:{self.staff.name}", action=action, now=self.now,
              case_id=case.id if case else None, detail=detail)  # fmt: skip


def handle_staff(session: Session, catalogue: Catalogue, profile: Profile, now: datetime, action: StaffAction) -> None:
    staff = staff_by_telegram(session, action.telegram_id)
    if staff is None:
        audit(session, actor="unregistered", action=AuditAction.REFUSED, now=now, detail="not registered staff")
        queue_to_staff(session, text=catalogue.text("sv", "staff.refused"), now=now)
        return
    desk = Desk(session, catalogue, profile, now, staff)
    if action.choice:
        _button(desk, action.choice)
    elif action.text.startswith("/"):
        _command(desk, action.text)
    elif action.reply_to:
        cases = _cases_of_post(session, action.reply_to)
        if len(cases) == 1:
            relay(desk, cases[0], action.text)
        elif len(cases) > 1:
            desk.post(desk.t("staff.reply_which"))


def _command(desk: Desk, text: str) -> None:
    command, _, rest = text.strip().partition(" ")
    command = command.split("@", 1)[0].lower()  # /ko@utvag_bot in groups
    code_match = CODE.search(rest)
    case = _case(desk.session, code_match.group(0)) if code_match else None
    after_code = rest[code_match.end():].strip() if code_match else rest.strip()
    if command in ("/ko", "/queue"):
        show_queue(desk)
    elif command in ("/nasta", "/nästa", "/next"):
        take_next(desk)
    elif command in ("/arende", "/ärende", "/case"):
        show_case(desk, case) if case else _unknown_case(desk, rest)
    elif command in ("/svara", "/reply"):
        if case is None or not after_code:
            desk.post(desk.t("staff.usage_reply"))
        else:
            relay(desk, case, after_code)
    elif command in ("/notera", "/note"):
        if case is None or not after_code:
            desk.post(desk.t("staff.usage_note"))
        else:
            add_note(desk, case, after_code)
    elif command in ("/inskriv", "/enrol", "/enroll"):
        enrol(desk, case, after_code or None) if case else _unknown_case(desk, rest)
    elif command in ("/omrade", "/område", "/area"):
        set_area(desk, case, after_code) if case else _unknown_case(desk, rest)
    elif command in ("/incheckning", "/checkin"):
        set_checkin(desk, case, after_code) if case else desk.post(desk.t("staff.checkin.usage", problem=""))
    elif command in ("/incident", "/händelse"):
        area = desk.profile.unit.area_named(rest) if rest.strip() else None
        if rest.strip() and area is None:
            desk.post(desk.t("staff.area.unknown", areas=", ".join(desk.profile.unit.areas)))
            return
        incident.preview(desk.session, desk.catalogue, desk.staff.id, area, desk.now)
        desk.audit(AuditAction.INCIDENT_PREVIEW, detail=f"area {area}" if area else "all participants")
    elif command in ("/kontakta", "/contact"):
        start_outreach_contact(desk, rest)
    elif command in ("/avsluta", "/close"):
        if case is None:
            _unknown_case(desk, rest)
        elif after_code:
            close(desk, case, _outcome_from_words(after_code))
        else:
            desk.post(desk.t("staff.close_pick", code=case.code), _outcome_buttons(desk, case), case)
    else:
        desk.post(desk.t("staff.unknown_command"))


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
    lines = [desk.t("staff.queue_title", count=len(cases))] + [_line(desk, case) for case in cases[:30]]
    buttons = [(f"claim:{case.code}", f"{desk.t('staff.claim')} {case.code}") for case in cases if case.state == CaseState.OPEN][:5]
    desk.post("\n".join(lines), buttons)


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
    if _phone(case):
        buttons.append((f"number:{case.code}", desk.t("staff.show_number")))
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
    return won


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
    desk.post(desk.t("staff.released", name=desk.staff.name, code=case.code), case=case)


def hand_over(desk: Desk, case: Case, staff_id: int) -> None:
    new = desk.session.get(Staff, staff_id)
    if new is None or new.removed_at is not None or not _is_mine(desk, case):
        return
    case.assigned_staff_id, case.updated_at = new.id, desk.now
    desk.audit(AuditAction.HANDED_OVER, case, detail=f"to staff:{new.id}")
    desk.post(desk.t("staff.handed_over", code=case.code, old=desk.staff.name, new=new.name), case=case)


def _is_mine(desk: Desk, case: Case) -> bool:
    if case.state == CaseState.CLAIMED and case.assigned_staff_id == desk.staff.id:
        return True
    holder = desk.session.get(Staff, case.assigned_staff_id) if case.assigned_staff_id else None
    desk.post(desk.t("staff.not_yours", code=case.code, name=holder.name if holder else "-"), case=case)
    return False


# --- talking to the person ----------------------------------------------------------------------------


def relay(desk: Desk, case: Case, text: str) -> None:
    """The person receives it on their own channel, signed by the unit; never with anything of the worker's."""
    reached = last_reached_on(desk.session, case.contact_id) if case.contact_id else None
    if reached is None:
        desk.post(desk.t("staff.relay_failed", code=case.code), case=case)
        return
    identity_id, channel = reached
    signoff = desk.t("staff.signoff", name=desk.staff.signoff) if desk.staff.signoff else desk.t("staff.signoff_unit")
    queue_to_contact(desk.session, contact_id=case.contact_id, identity_id=identity_id, channel=channel,
                     text=f"{text.strip()}\n{signoff}", now=desk.now)  # fmt: skip
    if case.state == CaseState.OPEN:
        _claim(desk, case)
    if case.kind == CaseKind.QUESTION and case.state != CaseState.CLOSED:
        case.outcome = Outcome.ANSWERED
    case.updated_at = desk.now
    desk.audit(AuditAction.REPLIED, case)
    desk.post(desk.t("staff.relayed", code=case.code), case=case)


def reveal_number(desk: Desk, case: Case) -> str:
    """The consented number as a sentence for the one who asked; every reveal is audited."""
    phone = _phone(case)
    desk.audit(AuditAction.NUMBER_SHOWN, case)
    return desk.t("staff.number", code=case.code, phone=phone) if phone else desk.t("staff.no_number", code=case.code)


def show_number(desk: Desk, case: Case) -> None:
    desk.post(reveal_number(desk, case), case=case)


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
            desk.post(desk.t("staff.checkin.usage", problem=str(exc).capitalize() + "."), case=case)
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


def _cases_of_post(session: Session, provider_message_id: str) -> list[Case]:
    """The cases a staff post was about, so that replying to it in Telegram answers that case. A busy hour's
    alerts go out joined in one post (bot/dispatcher.py): a reply to such a post cannot say which case it answers."""
    return list(session.scalars(select(Case).where(Case.id.in_(select(OutboxItem.case_id).where(
        OutboxItem.target == "staff_group", OutboxItem.provider_message_id == provider_message_id)))))  # fmt: skip


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
    if case.due_at is None:
        return ""
    if case.due_at < desk.now and case.state != CaseState.CLOSED:
        return desk.t("staff.overdue")
    local = case.due_at.astimezone(desk.profile.office_hours.zone)
    return desk.t("staff.due", when=local.strftime("%d/%m %H:%M"))


def _who(desk: Desk, case: Case) -> str:
    if case.assigned_staff_id is None:
        return ""
    holder = desk.session.get(Staff, case.assigned_staff_id)
    return desk.t("staff.taken_by", name=holder.name) if holder else ""


def _line(desk: Desk, case: Case) -> str:
    return desk.t("staff.queue_line", flag=_flag(case), code=case.code, kind=desk.t(f"staff.kind.{case.kind}"),
                  waited=_waited(desk, case), due=_due(desk, case), who=_who(desk, case))  # fmt: skip


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
                   case_id=case.id, contact_id=case.contact_id)  # fmt: skip
