"""The staff registry and the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.crypto import active_keyring, normalise_phone
from storage.models import AuditAction, AuditEvent, Staff


def telegram_hash(telegram_id: str | int) -> str:
    return active_keyring().lookup_hash("staff-telegram", str(telegram_id).strip())


def add_staff(
    session: Session, *, name: str, role: str, now: datetime, telegram_id: str | None = None, phone: str | None = None,
    language: str = "sv", signoff: str | None = None,
) -> Staff:  # fmt: skip
    if role not in ("staff", "lead"):
        raise ValueError("role must be staff or lead")
    if telegram_id is not None and not str(telegram_id).lstrip("-").isdigit():
        raise ValueError("a Telegram user id is a number (ask @userinfobot)")
    staff = Staff(
        name=name.strip(), role=role, language=language, created_at=now, signoff=signoff,
        telegram_hash=telegram_hash(telegram_id) if telegram_id else None,
        telegram_id=str(telegram_id) if telegram_id else None,
        phone=normalise_phone(phone) if phone else None,
    )  # fmt: skip
    session.add(staff)
    session.flush()
    return staff


def active_staff(session: Session) -> list[Staff]:
    return list(session.scalars(select(Staff).where(Staff.removed_at.is_(None)).order_by(Staff.name)))


def staff_by_telegram(session: Session, telegram_id: str | int) -> Staff | None:
    """A registered, not removed staff member; removal takes effect on their next action."""
    return session.scalar(select(Staff).where(Staff.telegram_hash == telegram_hash(telegram_id), Staff.removed_at.is_(None)))


def find_staff(session: Session, name_or_id: str) -> Staff | None:
    query = select(Staff).where(Staff.removed_at.is_(None))
    if name_or_id.isdigit():
        return session.scalar(query.where(Staff.id == int(name_or_id)))
    return session.scalar(query.where(Staff.name == name_or_id))


def audit(
    session: Session, *, actor: str, action: AuditAction, now: datetime, case_id: int | None = None, detail: str | None = None
) -> None:
    """Append to the audit trail. `detail` must hold no personal data: codes, states, outcomes only."""
    session.add(AuditEvent(at=now, actor=actor[:80], action=action[:40], case_id=case_id, detail=(detail or None) and detail[:400]))


def audit_trail(session: Session, case_id: int) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)))
