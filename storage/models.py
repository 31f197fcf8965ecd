"""The tables: contacts, their channel identities, conversations, messages, cases, staff, outbox, audit."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import EncryptedText, UTCDateTime

Id = BigInteger().with_variant(Integer, "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def new_contact_id() -> str:
    return secrets.token_hex(16)


class Contact(Base):
    """A person, known only by a random id."""

    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_contact_id)
    language: Mapped[str | None] = mapped_column(String(2))
    source: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChannelIdentity(Base):
    """How to reach a contact on one channel: the address encrypted, plus a keyed hash to find it."""

    __tablename__ = "channel_identities"
    __table_args__ = (
        UniqueConstraint("channel", "address_hash", name="uq_identity_address"),
        UniqueConstraint("resume_hash", name="uq_identity_resume"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address_hash: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(EncryptedText())
    # Web chat: a keyed hash of the word code the person wrote down to reopen the chat elsewhere; never the code.
    resume_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConversationState(StrEnum):
    """Where a person is in a flow (handlers/router.py has a flow for each); stored as the string value."""

    NEW = "new"
    CHOOSE_LANGUAGE = "choose_language"
    MENU = "menu"
    ASK = "ask"
    ABOUT = "about"
    RELATIVE = "relative"
    APPLY_WHO = "apply.who"
    APPLY_ELIGIBLE = "apply.eligible"
    APPLY_NEEDS = "apply.needs"
    APPLY_SUMMARY = "apply.summary"
    APPLY_CONTACT = "apply.contact"
    APPLY_TIMES = "apply.times"
    CALL_WINDOW = "call.window"
    PHONE = "phone"
    ERASE_CONFIRM = "erase.confirm"
    CHECKIN = "checkin"


class Conversation(Base):
    """Where a contact is in a flow, and what they have answered so far (encrypted JSON)."""

    __tablename__ = "conversations"

    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(64), default=ConversationState.NEW)
    data: Mapped[str] = mapped_column(EncryptedText(), default="{}")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Message(Base):
    """One message of a transcript, either direction; inbound rows are unique per provider id."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id", name="uq_message_provider_id"),
        Index("ix_messages_unprocessed", "processed_at", "id"),
        Index("ix_messages_contact", "contact_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(3))  # "in" or "out"
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text, choice, contact, media
    body: Mapped[str | None] = mapped_column(EncryptedText())
    meta: Mapped[str | None] = mapped_column(EncryptedText())  # JSON: choice key, options, shared phone
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseKind(StrEnum):
    """What a case asks of staff; set when it is opened and never changed."""

    QUESTION = "question"
    APPLICATION = "application"  # becomes a participant's case when staff enrol it
    CALL = "call"
    DANGER = "danger"
    CHECKIN = "checkin"  # an answer to a check-in or an outreach that staff should see


class CaseState(StrEnum):
    """Open until someone claims it (claim, reply, acknowledge); open again on release or a call's new time; closed
    with outcomes, for good."""

    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


class Outcome(StrEnum):
    """What became of a case: the outcomes staff close with, a call's outcome, and an answered question. A case stores
    one or more of them joined by "+" ("housing+income")."""

    HOUSING = "housing"
    INCOME = "income"
    OCCUPATION = "occupation"
    REFERRED = "referred"
    WITHDREW = "withdrew"
    NO_CONTACT = "no_contact"
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    NEW_TIME = "new_time"  # a call's outcome only: the case opens again and the person picks a new time
    ANSWERED = "answered"  # a question staff have answered


@dataclass(frozen=True)
class CaseDetails:
    """Case.details decoded: what the person gave for staff (an application's needs, contact way and times; a call's
    window; the phone they consented to share; their own first words) and the area staff recorded. A key not named
    here is not read, and not kept when the details are written back: add a field for anything new."""

    needs: tuple[str, ...] = ()
    contact_way: str | None = None
    times: str | None = None
    phone: str | None = None
    wrote: str | None = None
    window_start: str | None = None
    window_end: str | None = None
    area: str | None = None

    @classmethod
    def of(cls, stored: str | None) -> CaseDetails:
        raw = json.loads(stored) if stored else {}
        known = {name: raw[name] for name in cls.__dataclass_fields__ if raw.get(name) is not None}
        return cls(**{**known, "needs": tuple(known.get("needs", ()))})

    def dumps(self) -> str:
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return json.dumps({name: list(value) if name == "needs" else value for name, value in values.items() if value},
                          ensure_ascii=False)  # fmt: skip


class Case(Base):
    """Something staff must act on; outlives an erased contact as anonymous counts."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # a CaseKind
    state: Mapped[str] = mapped_column(String(16), default=CaseState.OPEN)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    relative: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str | None] = mapped_column(EncryptedText())
    notes: Mapped[str | None] = mapped_column(EncryptedText())
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(32))  # Outcome values joined by "+"
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    details: Mapped[str | None] = mapped_column(EncryptedText())  # JSON: needs, contact way, call window, phone
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # an application became a participant
    # Timers, each set once by whichever process acts first (UPDATE … WHERE it IS NULL): never twice.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    realerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "Kolla": triage thought a message might be danger and asked the person "Är du i fara just nu?". Set when asked
    # (the case moves up the queue and stays marked), answered when they said JA or NEJ, alerted when ten minutes
    # passed without an answer and staff were told anyway.
    check_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    check_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    check_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Staff(Base):
    """A registered social worker or lead; their Telegram id and phone are encrypted like a client's."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(8), default="staff")  # staff, lead
    telegram_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    telegram_id: Mapped[str | None] = mapped_column(EncryptedText())
    phone: Mapped[str | None] = mapped_column(EncryptedText())
    language: Mapped[str] = mapped_column(String(2), default="sv")
    signoff: Mapped[str | None] = mapped_column(String(40))  # a first name to sign relayed answers with, if they chose one
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id, for the web dashboard; None: no dashboard login
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StaffSession(Base):
    """A dashboard login: only the SHA-256 of the cookie's random token is stored, so a copy of the table opens nothing."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    flash: Mapped[str | None] = mapped_column(EncryptedText())  # one message for the next page, then cleared


class LoginFailure(Base):
    """A failed dashboard login, under a keyed hash of the name or address tried: for rate limiting only."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxItem(Base):
    """One delivery to make: written with the state change that caused it, sent by the dispatcher."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "lane", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    lane: Mapped[int] = mapped_column(Integer, default=0)  # 0 = replies and urgent alerts, 1 = bulk
    contact_id: Mapped[str | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)  # what a staff post is about
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str | None] = mapped_column(String(16))  # checkin, incident: what a bulk message was, for its answers
    target: Mapped[str] = mapped_column(String(16), default="contact")  # contact, staff_group, staff
    payload: Mapped[str | None] = mapped_column(EncryptedText())  # JSON for deliveries with no transcript row
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, sending, sent, failed, uncertain
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the current attempt began
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    # What the provider later reported (queued, sent, delivered, undelivered, failed, read); never moves back.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(200))


class AuditAction(StrEnum):
    """What an audit row records: staff actions on cases, the workspace and the team, and logins."""

    ACKNOWLEDGED = "acknowledged"
    AREA_SET = "area_set"
    CALL_OUTCOME = "call_outcome"
    CHECKIN_SCHEDULE = "checkin_schedule"
    CLAIMED = "claimed"
    CLOSED = "closed"
    ENROLLED = "enrolled"
    HANDED_OVER = "handed_over"
    INCIDENT_PREVIEW = "incident_preview"
    INCIDENT_CONFIRMED = "incident_confirmed"
    INCIDENT_CANCELLED = "incident_cancelled"
    NOTED = "noted"
    NUMBER_SHOWN = "number_shown"
    OUTREACH_CONSENT = "outreach_consent"
    RELEASED = "released"
    REPLIED = "replied"
    VIEWED = "viewed"
    REFUSED = "refused"
    PRIVATE_CHAT = "private_chat"  # a worker opened their private chat with the bot
    STAFF_ADDED = "staff_added"
    STAFF_REMOVED = "staff_removed"
    LOGGED_IN = "logged_in"
    LOGGED_OUT = "logged_out"
    VIEWED_TRANSCRIPT = "viewed_transcript"
    EXPORTED_NUMBERS = "exported_numbers"


class AuditEvent(Base):
    """Append-only record of who did what to which case; no personal data in it."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))  # an AuditAction
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    detail: Mapped[str | None] = mapped_column(String(400))


class ProcessedUpdate(Base):
    """Provider updates handled outside the client transcript (staff actions): their ids, so a repeat is dropped."""

    __tablename__ = "processed_updates"
    __table_args__ = (UniqueConstraint("channel", "provider_id", name="uq_processed_update"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckinState(StrEnum):
    """A check-in schedule: active (sending when due); paused or stopped by staff (/incheckning K-… paus, stopp, fortsätt
    makes it active again); stopped when the person can no longer be reached; done after a one-off date has passed."""

    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    DONE = "done"


class CheckinSchedule(Base):
    """When a participant gets their check-in: a rule in local wall-clock time and the next due moment in UTC."""

    __tablename__ = "checkin_schedules"
    __table_args__ = (Index("ix_checkin_due", "state", "next_due_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    rule: Mapped[str] = mapped_column(String(200))  # JSON: {"kind": "weekly", "weekday": 0, "time": "10:00", "every": 1, "anchor": "…"}
    state: Mapped[str] = mapped_column(String(12), default=CheckinState.ACTIVE)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unanswered: Mapped[int] = mapped_column(Integer, default=0)
    silence_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentState(StrEnum):
    """An outreach: a draft until the lead confirms (sending) or cancels; done once all of it is queued and sent."""

    DRAFT = "draft"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class Incident(Base):
    """An outreach after a violent event: who asked, which area, and how it is going (counts only)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    area: Mapped[str | None] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(12), default=IncidentState.DRAFT)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    reported: Mapped[str | None] = mapped_column(String(80))  # the counts last posted, so progress is posted on change only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Outreach is queued a chunk per transaction in case id order: the last case id worked through, and when the
    # whole outreach had been queued (None while chunks remain).
    queued_through: Mapped[int] = mapped_column(Id, default=0, server_default="0")
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobRun(Base):
    """A periodic job's run for one period (a day's digest): the unique key makes it happen once."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_run"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class KeyCanary(Base):
    """One known value encrypted under the keys and hashed with the pseudonym key: `utvag check` reads it back to prove
    the configured keys are the ones this database was written with, before a person's row is ever needed."""

    __tablename__ = "key_canary"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(EncryptedText())
    pseudonym: Mapped[str] = mapped_column(String(64))  # lookup_hash of the value: changes if UTVAG_PSEUDONYM_KEY does
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
