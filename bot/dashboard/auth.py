"""Dashboard logins: argon2id passwords, server-side sessions with CSRF tokens, and limits on failed logins.

No web framework in here, so the CLI can hash a password without loading the web server. Every function
takes the database session and the time from its caller: the clock is the runtime's, so tests move it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from storage.crypto import active_keyring
from storage.models import AuditAction, LoginFailure, Staff, StaffSession
from storage.staff import audit

log = logging.getLogger(__name__)

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
# Failed logins slow guessing down; they never lock anyone out. Each kind of key allows some failures for free,
# then asks for a wait that doubles with every further failure, up to a ceiling. A wait refused is not a failure.
# The real person is apart from a guesser: their own address (or the device cookie their last login left) has
# its own count, so failures from elsewhere never make them wait more than the name's short ceiling.
FAILURE_WINDOW = timedelta(hours=1)
SLOWDOWN = {  # kind: (failures free, longest wait)
    "pair": (3, timedelta(minutes=15)),  # this name from this address
    "address": (10, timedelta(minutes=15)),  # any name from this address: a proxy or an office shares one
    "name": (10, timedelta(minutes=2)),  # this name from anywhere: guessing spread over many addresses
    "device": (5, timedelta(minutes=1)),  # this name from a browser it logged in on before
}
DEVICE_DAYS = 365
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
    wait: int = 0  # seconds to wait before trying again: not even tried
    device: str | None = None  # set on success: a cookie that marks this browser as the person's own

    @property
    def limited(self) -> bool:
        return self.wait > 0


def log_in(session: Session, name: str, password: str, address: str, now: datetime, device: str | None = None) -> LoginResult:
    keys = _failure_keys(name, address, device)
    wait = _wait(session, keys, now)
    if wait:
        log.warning("dashboard login slowed: wait %d s (%s)", wait, ", ".join(f"{kind} {key[:8]}" for kind, key in keys.items()))
        return LoginResult(wait=wait)
    candidates = list(session.scalars(
        select(Staff).where(Staff.name == name.strip(), Staff.removed_at.is_(None), Staff.password_hash.is_not(None))
    ))  # fmt: skip
    staff = next((member for member in candidates if verify_password(member.password_hash, password)), None)
    if not candidates:
        verify_password(None, password)
    if staff is None:
        for key in keys.values():
            session.add(LoginFailure(key=key, at=now))
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - FAILURE_WINDOW))
        log.warning("dashboard login failed (%s)", ", ".join(f"{kind} {key[:8]}" for kind, key in keys.items()))
        return LoginResult()
    if _hasher.check_needs_rehash(staff.password_hash or ""):
        staff.password_hash = _hasher.hash(password)
    session.execute(delete(LoginFailure).where(LoginFailure.key.in_([keys[kind] for kind in ("pair", "device") if kind in keys])))
    session.execute(delete(StaffSession).where(  # sessions nobody came back to
        or_(StaffSession.last_seen_at < now - IDLE_TIMEOUT, StaffSession.created_at < now - ABSOLUTE_TIMEOUT)))  # fmt: skip
    token = secrets.token_urlsafe(32)  # 32 random bytes
    session.add(StaffSession(token_hash=token_hash(token), staff_id=staff.id, csrf_token=secrets.token_urlsafe(32),
                             created_at=now, last_seen_at=now))  # fmt: skip
    audit(session, actor=f"staff:{staff.id}:{staff.name}", action=AuditAction.LOGGED_IN, now=now, detail="dashboard")
    log.info("dashboard login (staff %s)", staff.id)
    return LoginResult(token=token, device=device_cookie(name))


def device_cookie(name: str) -> str:
    """What a browser keeps after logging in as `name`: a keyed hash, so nobody without the key can make one."""
    return active_keyring().lookup_hash("dashboard-device", name.strip().casefold())[:32]


def _failure_keys(name: str, address: str, device: str | None) -> dict[str, str]:
    """Keyed hashes: the table (and the log, which shows a prefix) holds neither names nor addresses."""
    keyring = active_keyring()
    folded = name.strip().casefold()
    if device is not None and same(device, device_cookie(name)):
        return {"device": keyring.lookup_hash("dashboard-login-device", folded)}
    return {
        "pair": keyring.lookup_hash("dashboard-login-pair", f"{folded}\n{address}"),
        "address": keyring.lookup_hash("dashboard-login-address", address),
        "name": keyring.lookup_hash("dashboard-login-name", folded),
    }


def _wait(session: Session, keys: dict[str, str], now: datetime) -> int:
    """Seconds until every key's wait has passed (0: try now)."""
    since = now - FAILURE_WINDOW
    longest = 0.0
    for kind, key in keys.items():
        count, last = session.execute(
            select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.key == key, LoginFailure.at >= since)
        ).one()  # fmt: skip
        free, ceiling = SLOWDOWN[kind]
        if not count or count < free or last is None:
            continue
        delay = min(ceiling.total_seconds(), 2.0 ** (count - free))
        longest = max(longest, (last + timedelta(seconds=delay) - now).total_seconds())
    return math.ceil(longest) if longest > 0 else 0


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
        audit(session, actor=f"staff:{staff.id}:{staff.name}", action=AuditAction.LOGGED_OUT, now=now, detail="dashboard")


def end_sessions_of(session: Session, staff_id: int) -> int:
    return session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id)).rowcount or 0


def flash(session: Session, viewer: Viewer, text: str) -> None:
    """One sentence shown on the next page (encrypted at rest: it can hold a number staff asked to see)."""
    row = session.get(StaffSession, viewer.session_id)
    if row is not None:
        row.flash = text[:2000]
