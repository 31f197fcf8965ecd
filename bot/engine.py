"""The engine: accept (deduplicate and store) an inbound message, then process it in one transaction."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.base import Accepted, InboundMessage
from bot.clock import Clock
from bot.metrics import Metrics
from handlers import checkins, incident
from handlers.catalogue import Catalogue
from handlers.desk import StaffAction, handle_staff
from handlers.digest import post_digest
from handlers.profile import Profile
from handlers.retention import purge
from handlers.router import respond
from handlers.timers import run_timers
from handlers.turn import Inbound, Reply, Turn
from storage.contacts import find_or_create_identity
from storage.db import insert_ignoring_duplicates, scrub, scrub_owed
from storage.models import Contact, Conversation, JobRun, Message, OutboxItem, ProcessedUpdate
from storage.outbox import queue_to_contact

log = logging.getLogger(__name__)

FLOOD_MESSAGES = 20  # typed messages; button presses answer our own prompts and never count
FLOOD_WINDOW = timedelta(seconds=10)
OUTREACH_AHEAD = 600  # outreach messages queued and not yet sent: 20 s of Telegram's bulk pace


@dataclass
class Engine:
    sessions: sessionmaker[Session]
    clock: Clock
    catalogue: Catalogue
    profile: Profile
    metrics: Metrics | None = None

    def accept(self, inbound: InboundMessage) -> Accepted:
        """Store an inbound message once; a repeat of the same provider id is recognised and dropped."""
        now = self.clock.now()
        inbound = _carryable(inbound)
        with self.sessions.begin() as session:
            identity = find_or_create_identity(session, inbound.channel, inbound.address, now, inbound.source)
            content = inbound.content
            meta = {key: value for key, value in (("choice", content.choice), ("phone", content.phone),
                                                  ("media", content.media), ("pressed", content.pressed)) if value}  # fmt: skip
            values = {
                "contact_id": identity.contact_id,
                "identity_id": identity.id,
                "channel": inbound.channel,
                "provider_id": inbound.provider_id,
                "direction": "in",
                "kind": content.kind,
                "body": content.text,
                "meta": json.dumps(meta) if meta else None,
                "created_at": now,
            }
            # The unique (channel, provider_id) constraint decides, not a read: safe under concurrency.
            message_id = insert_ignoring_duplicates(session, Message, ["channel", "provider_id"], **values)
            if message_id is not None:
                identity.last_inbound_at = now
                session.execute(update(Contact).where(Contact.id == identity.contact_id).values(last_inbound_at=now))
            return Accepted(message_id=message_id, contact_id=identity.contact_id)

    def handle_staff(self, provider_id: str, action: StaffAction) -> bool:
        """A staff action, handled once: a repeated update id is dropped by the unique constraint."""
        now = self.clock.now()
        action = dataclasses.replace(action, telegram_id=_fix(action.telegram_id) or "", text=_fix(action.text) or "",
                                     choice=_fix(action.choice), reply_to=_fix(action.reply_to))  # fmt: skip
        with self.sessions.begin() as session:
            fresh = insert_ignoring_duplicates(session, ProcessedUpdate, ["channel", "provider_id"], channel="telegram",
                                               provider_id=provider_id, at=now)  # fmt: skip
            if fresh is None:
                return False
            handle_staff(session, self.catalogue, self.profile, now, action)
            return True

    def run_timers(self, escalate_after: timedelta, oncall_phone: str | None) -> dict[str, int]:
        with self.sessions.begin() as session:
            return run_timers(session, self.catalogue, self.profile, self.clock.now(), escalate_after=escalate_after,
                              oncall_phone=oncall_phone)  # fmt: skip

    def scheduled_work(self, escalate_after: timedelta, oncall_phone: str | None) -> dict[str, int]:
        """Everything time brings: timers, due check-ins, outreach progress, the digest and the nightly purge."""
        done = dict(self.run_timers(escalate_after, oncall_phone))
        done.update(self.frequent_work())
        now = self.clock.now()
        with self.sessions.begin() as session:
            done["incident_reports"] = incident.report_progress(session, self.catalogue, now)
        if not scrub_owed(self.sessions.kw["bind"]):
            log.warning("the database's log still holds an erasure: a reader held it; trying again at the next tick")
        local = now.astimezone(self.profile.office_hours.zone)
        if (8, 30) <= (local.hour, local.minute) < (12, 0) and self._once("digest", local.date().isoformat()):
            with self.sessions.begin() as session:
                done["digest"] = int(post_digest(session, self.catalogue, self.profile, now))
        if local.hour >= 3 and self._once("purge", local.date().isoformat()):
            with self.sessions.begin() as session:
                done.update({f"purged_{key}": value for key, value in purge(session, self.profile, now).items()})
        return done

    def frequent_work(self) -> dict[str, int]:
        """What cannot wait for the next full tick (the scheduler runs this every second): due check-ins, and the next
        chunks of a confirmed outreach, kept about OUTREACH_AHEAD messages ahead of what the bulk lane has sent."""
        done = {"checkins_sent": 0, "checkins_skipped": 0, "checkins_waiting": 0, "incident_queued": 0}
        now = self.clock.now()
        for _ in range(40):  # a backlog is worked through now, a batch per transaction, not one batch per tick
            with self.sessions.begin() as session:
                batch = checkins.send_due(session, self.catalogue, self.profile, now)
            for key, value in batch.items():
                done[f"checkins_{key}"] = done.get(f"checkins_{key}", 0) + value
            if batch["sent"] + batch["skipped"] < checkins.BATCH:
                break
        for _ in range(incident.CHUNKS_PER_TICK):  # a chunk per transaction, never all at once
            with self.sessions.begin() as session:
                if _outreach_waiting(session) >= OUTREACH_AHEAD:
                    break  # enough waits to be sent; queuing more now would only compete with the people writing in
                queued = incident.queue_outreach(session, self.catalogue, now)
            done["incident_queued"] += queued
            if not queued:
                break
        if self.metrics is not None:
            self.metrics.checkins_sent.inc(done["checkins_sent"])
        return done

    def _once(self, job: str, period: str) -> bool:
        """True for the first caller for this job and period, ever, in any process."""
        with self.sessions.begin() as session:
            return insert_ignoring_duplicates(session, JobRun, ["job", "period"], job=job, period=period, at=self.clock.now()) is not None

    def process_pending(self, limit: int = 200) -> int:
        """Handle accepted messages in arrival order; returns how many were handled."""
        with self.sessions() as session:
            pending = session.execute(
                select(Message.id, Message.contact_id).where(Message.processed_at.is_(None), Message.direction == "in")
                .order_by(Message.id).limit(limit)
            ).all()  # fmt: skip
        for message_id, contact_id in pending:
            started = time.perf_counter()
            try:
                erased, answered = self._process(message_id, contact_id)
            except Exception:
                log.exception("handler failed on message %s; answering with an apology", message_id)
                if self.metrics is not None:
                    self.metrics.handler_errors.inc()
                self._apologise(message_id)
                continue
            # Erased: the rows are gone from the tables; now from SQLite's WAL too (zeroed by secure_delete).
            if erased and not scrub(self.sessions.kw["bind"]):
                log.warning("after an erasure the database was busy; its log is cleared at the next checkpoint")
            if self.metrics is not None:
                self.metrics.engine_seconds.observe(time.perf_counter() - started)
                if answered:
                    self.metrics.checkins_answered.inc()
        return len(pending)

    def _process(self, message_id: int, contact_id: str) -> tuple[bool, bool]:
        """Handle one message; whether it erased the person, and whether it answered a check-in or an incident outreach."""
        with self.sessions.begin() as session:
            # Locking the conversation row first keeps one contact's messages in order across processes; the
            # message is read only under the lock, so two workers never both handle it.
            conversation = session.get(Conversation, contact_id, with_for_update=True)
            found = session.execute(
                select(Message, Contact).join(Contact, Contact.id == Message.contact_id).where(Message.id == message_id)
            ).first()  # fmt: skip
            if conversation is None or found is None or found[0].processed_at is not None:
                return False, False
            message, contact = found
            # One look at this person's earlier messages: any still unhandled (another worker is behind on this
            # contact: keep order), and how many they typed within the flood window.
            window_start = message.created_at - FLOOD_WINDOW
            unhandled, typed = session.execute(
                select(func.count().filter(Message.processed_at.is_(None)),
                       func.count().filter(Message.kind == "text", Message.created_at >= window_start))
                .where(Message.contact_id == contact_id, Message.direction == "in", Message.id < message.id,
                       or_(Message.processed_at.is_(None), Message.created_at >= window_start))
            ).one()  # fmt: skip
            if unhandled:
                return False, False
            now = self.clock.now()
            turn = Turn(
                session=session, contact=contact, inbound=_content(message), channel=message.channel, now=now,
                catalogue=self.catalogue, profile=self.profile, state=conversation.state,
                data=json.loads(conversation.data or "{}"),
            )  # fmt: skip
            awaiting_answer = "checkin_case" in turn.data
            respond(turn)
            answered = awaiting_answer and "checkin_case" not in turn.data
            if not turn.urgent and not turn.asked and typed >= FLOOD_MESSAGES:
                # A flood (or a stuck phone), not a talk: everything is stored and handled; only answering every one stops.
                turn.replies.clear()
            if turn.erased:
                # The rows are gone; forget the loaded objects so nothing is written back to them.
                for gone in (conversation, contact, message):
                    session.expunge(gone)
                return True, False
            conversation.state = turn.state
            conversation.data = json.dumps(turn.data)
            conversation.updated_at = now
            message.processed_at = now
            for reply in turn.replies:
                queue_reply(session, message, reply, now, urgent=turn.urgent)
            return False, answered

    def _apologise(self, message_id: int) -> None:
        with self.sessions.begin() as session:
            message = session.get(Message, message_id)
            if message is None or message.processed_at is not None:
                return
            contact = session.get(Contact, message.contact_id)
            language = (contact.language if contact else None) or self.catalogue.default_language
            message.processed_at = self.clock.now()
            queue_reply(session, message, Reply(self.catalogue.text(language, "error.internal")), message.processed_at)


def queue_reply(session: Session, inbound: Message, reply: Reply, now: datetime, lane: int = 0, urgent: bool = False) -> None:
    """A reply goes back on the channel and to the address the message came from; the answer to danger goes first."""
    options = [(option.key, option.label) for option in reply.options]
    queue_to_contact(session, contact_id=inbound.contact_id, identity_id=inbound.identity_id, channel=inbound.channel,
                     text=reply.text, now=now, options=options, request_contact=reply.request_contact, lane=lane,
                     kind="danger" if urgent else None, replaces=reply.replaces)  # fmt: skip


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _fix(value: str | None) -> str | None:
    return LONE_SURROGATE.sub("\ufffd", value) if value and LONE_SURROGATE.search(value) else value


def _carryable(inbound: InboundMessage) -> InboundMessage:
    """A lone surrogate (JSON can carry "\\ud800"; UTF-8 cannot) becomes U+FFFD, so the message is stored, not lost."""
    fix = _fix
    content = inbound.content
    fixed = dataclasses.replace(content, text=fix(content.text) or "", choice=fix(content.choice), phone=fix(content.phone),
                                media=fix(content.media))  # fmt: skip
    return dataclasses.replace(inbound, address=fix(inbound.address) or "", content=fixed, source=fix(inbound.source))


def _content(message: Message) -> Inbound:
    meta = json.loads(message.meta) if message.meta else {}
    return Inbound(kind=message.kind, text=message.body or "", choice=meta.get("choice"),
                   phone=meta.get("phone"), media=meta.get("media"), pressed=meta.get("pressed"))  # fmt: skip


def _outreach_waiting(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(OutboxItem)
        .where(OutboxItem.status == "pending", OutboxItem.lane == 1, OutboxItem.incident_id.is_not(None))
    ) or 0  # fmt: skip
