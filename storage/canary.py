"""The key canary: a known value stored encrypted, read back to prove the configured keys fit this database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from storage.crypto import DecryptionError, active_keyring
from storage.db import insert_ignoring_duplicates
from storage.models import KeyCanary

CANARY = "utvag-key-canary"


@dataclass(frozen=True)
class CanaryResult:
    written: bool  # there was none: one was stored now, under the current keys
    secret_keys_fit: bool
    pseudonym_key_fits: bool


def ensure_canary(session: Session, now: datetime) -> bool:
    """Store the canary under the active keys unless one is there; True when it was written now."""
    if session.scalar(select(KeyCanary.id).limit(1)) is not None:
        return False
    # Two processes starting at once: the primary key decides, and the second writes nothing.
    written = insert_ignoring_duplicates(session, KeyCanary, ["id"], id=1, value=CANARY,
                                         pseudonym=active_keyring().lookup_hash("canary", CANARY), created_at=now)  # fmt: skip
    return written is not None


def check_canary(session: Session, now: datetime) -> CanaryResult:
    """Whether the active keys read the stored canary (stored first if there is none)."""
    written = ensure_canary(session, now)
    token, pseudonym = session.execute(select(type_coerce(KeyCanary.value, Text), KeyCanary.pseudonym).limit(1)).one()
    keyring = active_keyring()
    try:
        fits = keyring.decrypt(token) == CANARY
    except DecryptionError:
        fits = False
    return CanaryResult(written, fits, keyring.lookup_hash("canary", CANARY) == pseudonym)
