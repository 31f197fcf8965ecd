"""Filling a benchmark database quickly: through the engine where the conversation matters, by bulk insert where not."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.base import InboundMessage
from bot.engine import Engine
from handlers.catalogue import Catalogue
from handlers.profile import load_profile
from handlers.turn import Inbound
from storage.crypto import active_keyring
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import Case, ChannelIdentity, CheckinSchedule, Contact, Conversation, Message, OutboxItem
from storage.staff import add_staff

CHUNK = 2000
ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def prepare(url: str, clock: Any) -> tuple[Any, sessionmaker[Session], Engine]:
    """A migrated database and an engine of our own (the Runtime's is not running yet)."""
    database = make_engine(url)
    upgrade(database)
    sessions = make_sessionmaker(database)
    return database, sessions, Engine(sessions, clock, Catalogue.load(), load_profile())


def earlier(clock: Any, minutes: float = 5) -> Any:
    """The same clock, some minutes back: warm-up messages then lie outside the engine's flood window (10 messages in
    10 s from one person), so a person's measured messages are never taken for a flood because of them."""
    from bench.common import BenchClock

    return BenchClock(clock.start - timedelta(minutes=minutes), clock.origin)


def add_lead(sessions: sessionmaker[Session], now: datetime, telegram_id: int) -> None:
    with sessions.begin() as session:
        add_staff(session, name="Sara", role="lead", now=now, telegram_id=str(telegram_id))


def warm_users(engine: Engine, chats: Iterable[int]) -> None:
    """People who have said hello and chosen Swedish, through the real engine; what it answered counts as delivered."""
    for chat in chats:
        for step, words in enumerate(("/start", "svenska")):
            engine.accept(InboundMessage("telegram", f"warm-{chat}-{step}", str(chat), Inbound(kind="text", text=words)))
    while engine.process_pending(limit=500):
        pass
    mark_outbox_sent(engine.sessions, engine.clock.now())


def mark_outbox_sent(sessions: sessionmaker[Session], now: datetime) -> None:
    with sessions.begin() as session:
        session.execute(update(OutboxItem).where(OutboxItem.status == "pending").values(status="sent", sent_at=now))


def case_code(number: int) -> str:
    """Six characters, so never the same as the four the engine draws for new cases."""
    digits = []
    for _ in range(6):
        number, rest = divmod(number, len(ALPHABET))
        digits.append(ALPHABET[rest])
    return "K-" + "".join(reversed(digits))


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def enrol_participants(sessions: sessionmaker[Session], chats: Sequence[int], now: datetime, first_code: int = 0) -> list[int]:
    """Enrolled participants on Telegram, as the engine leaves them (one message in, a claimed, enrolled application),
    written with bulk inserts. Returns their case ids in the order of `chats`."""
    keyring = active_keyring()
    case_ids: list[int] = []
    for chunk_number, chunk in enumerate(_chunks(chats)):
        with sessions.begin() as session:
            contacts = [{"id": f"{chat:032x}", "language": "sv", "created_at": now, "last_inbound_at": now} for chat in chunk]
            session.execute(insert(Contact), contacts)
            session.execute(insert(Conversation), [{"contact_id": row["id"], "state": "menu", "data": "{}", "updated_at": now}
                                                   for row in contacts])  # fmt: skip
            identity_ids = session.scalars(
                insert(ChannelIdentity).returning(ChannelIdentity.id, sort_by_parameter_order=True),
                [{"contact_id": row["id"], "channel": "telegram", "address_hash": keyring.lookup_hash("telegram", str(chat)),
                  "address": str(chat), "created_at": now, "last_inbound_at": now} for row, chat in zip(contacts, chunk, strict=True)],
            ).all()  # fmt: skip
            session.execute(insert(Message), [
                {"contact_id": row["id"], "identity_id": identity, "channel": "telegram", "provider_id": f"seed-{chat}",
                 "direction": "in", "kind": "text", "body": "hej", "created_at": now, "processed_at": now}
                for row, identity, chat in zip(contacts, identity_ids, chunk, strict=True)
            ])  # fmt: skip
            base = first_code + chunk_number * CHUNK
            case_ids += session.scalars(
                insert(Case).returning(Case.id, sort_by_parameter_order=True),
                [{"code": case_code(base + n), "contact_id": row["id"], "kind": "application", "state": "claimed", "urgent": False,
                  "relative": False, "created_at": now, "updated_at": now, "claimed_at": now, "enrolled_at": now}
                 for n, row in enumerate(contacts)],
            ).all()  # fmt: skip
    return case_ids


def add_schedules(sessions: sessionmaker[Session], case_ids: Sequence[int], due: Sequence[datetime], now: datetime) -> None:
    """Weekly check-ins (as handlers.checkins.set_schedule writes them) with the given next moments."""
    for chunk in _chunks(list(zip(case_ids, due, strict=True))):
        with sessions.begin() as session:
            session.execute(insert(CheckinSchedule), [
                {"case_id": case_id, "rule": json.dumps(weekly_rule(moment)), "state": "active", "next_due_at": moment,
                 "unanswered": 0, "silence_alerted": False, "created_at": now, "updated_at": now}
                for case_id, moment in chunk
            ])  # fmt: skip


@functools.cache
def _zone() -> Any:
    return load_profile().office_hours.zone


def weekly_rule(moment: datetime) -> dict[str, Any]:
    local = moment.astimezone(_zone())
    return {"kind": "weekly", "weekday": local.weekday(), "time": local.strftime("%H:%M"), "every": 1,
            "anchor": (local.date() - timedelta(days=7)).isoformat()}  # fmt: skip
