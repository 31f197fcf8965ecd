"""Dashboard logins: argon2id passwords, server-side sessions with CSRF tokens, and limits on failed logins.

No web framework in here, so the CLI can hash a password without loading the web server. Every function
takes the database session and the time from its caller: the clock is the runtime's, so tests move it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from storage.crypto import active_keyring
from storage.models import LoginFailure, Staff, StaffSession
from storage.staff import audit

log = logging.getLogger(__name__)

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
FAILURE_WINDOW = timedelta(minutes=15)
FAILURES_PER_NAME = 5
# Higher per address: a unit's office (or a proxy in front of Utväg) puts every worker behind one address.
FAILURES_PER_ADDRESS = 20
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


class PasswordTooShort(ValueError):
    def __init__(self) -> None:
        super().__init__(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort()
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not the name exists, so timing does not tell which names do."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(24))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Viewer:
    """The signed-in staff member of one request."""

    session_id: int
    staff_id: int
    name: str
    role: str
    csrf: str
    flash: str | None = None

    @property
    def lead(self) -> bool:
        return self.role == "lead"


# --- logging in ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    token: str | None = None  # set on success: the cookie's value; only its hash is stored
    limited: bool = False  # too many failures: not even tried


def log_in(session: Session, name: str, password: str, address: str, now: datetime) -> LoginResult:
    keys = _failure_keys(name, address)
    if _limited(session, keys, now):
        log.warning("dashboard login refused: too many failures (name %s, address %s)", keys[0][:8], keys[1][:8])
        return LoginResult(limited=True)
    candidates = list(session.scalars(
        select(Staff).where(Staff.name == name.strip(), Staff.removed_at.is_(None), Staff.password_hash.is_not(None))
    ))  # fmt: skip
    staff = next((member for member in candidates if verify_password(member.password_hash, password)), None)
    if not candidates:
        verify_password(None, password)
    if staff is None:
        for key in keys:
            session.add(LoginFailure(key=key, at=now))
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - FAILURE_WINDOW))
        log.warning("dashboard login failed (name %s, address %s)", keys[0][:8], keys[1][:8])
        return LoginResult()
    if _hasher.check_needs_rehash(staff.password_hash or ""):
        staff.password_hash = _hasher.hash(password)
    session.execute(delete(LoginFailure).where(LoginFailure.key == keys[0]))
    session.execute(delete(StaffSession).where(  # sessions nobody came back to
        or_(StaffSession.last_seen_at < now - IDLE_TIMEOUT, StaffSession.created_at < now - ABSOLUTE_TIMEOUT)))  # fmt: skip
    token = secrets.token_urlsafe(32)  # 32 random bytes
    session.add(StaffSession(token_hash=token_hash(token), staff_id=staff.id, csrf_token=secrets.token_urlsafe(32),
                             created_at=now, last_seen_at=now))  # fmt: skip
    audit(session, actor=f"staff:{staff.id}:{staff.name}", action="logged_in", now=now, detail="dashboard")
    log.info("dashboard login (staff %s)", staff.id)
    return LoginResult(token=token)


def _failure_keys(name: str, address: str) -> tuple[str, str]:
    """Keyed hashes: the table (and the log, which shows a prefix) holds neither names nor addresses."""
    keyring = active_keyring()
    return keyring.lookup_hash("dashboard-login-name", name.strip().casefold()), keyring.lookup_hash("dashboard-login-address", address)


def _limited(session: Session, keys: tuple[str, str], now: datetime) -> bool:
    since = now - FAILURE_WINDOW
    for key, limit in zip(keys, (FAILURES_PER_NAME, FAILURES_PER_ADDRESS), strict=True):
        count = session.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.key == key, LoginFailure.at >= since))
        if (count or 0) >= limit:
            return True
    return False


# --- sessions ---------------------------------------------------------------------------------------------


def current(session: Session, token: str | None, now: datetime, *, take_flash: bool = False) -> Viewer | None:
    """The viewer behind a cookie, or None: unknown, logged out, timed out, or the staff member was removed."""
    if not token or len(token) > 128:
        return None
    row = session.scalar(select(StaffSession).where(StaffSession.token_hash == token_hash(token)))
    if row is None:
        return None
    staff = session.get(Staff, row.staff_id)
    if staff is None or staff.removed_at is not None or now - row.last_seen_at >= IDLE_TIMEOUT or now - row.created_at >= ABSOLUTE_TIMEOUT:
        session.delete(row)
        return None
    row.last_seen_at = now
    flash = None
    if take_flash and row.flash:
        flash, row.flash = row.flash, None
    return Viewer(row.id, staff.id, staff.name, staff.role, row.csrf_token, flash)


def log_out(session: Session, token: str | None, now: datetime | None = None) -> None:
    row = session.scalar(select(StaffSession).where(StaffSession.token_hash == token_hash(token))) if token else None
    if row is None:
        return
    staff = session.get(Staff, row.staff_id)
    session.delete(row)
    if now is not None and staff is not None:
        audit(session, actor=f"staff:{staff.id}:{staff.name}", action="logged_out", now=now, detail="dashboard")


def end_sessions_of(session: Session, staff_id: int) -> int:
    return session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id)).rowcount or 0


def flash(session: Session, viewer: Viewer, text: str) -> None:
    """One sentence shown on the next page (encrypted at rest: it can hold a number staff asked to see)."""
    row = session.get(StaffSession, viewer.session_id)
    if row is not None:
        row.flash = text[:2000]
