"""Encryption of personal fields (Fernet) and keyed lookup hashes (HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class KeyringError(ValueError):
    """A key is missing or malformed."""


class DecryptionError(RuntimeError):
    """A stored value could not be decrypted: wrong key or a damaged row."""


class Keyring:
    """The process's keys: Fernet keys for data at rest (newest first) and the pseudonym key."""

    def __init__(self, secret_keys: Sequence[str], pseudonym_key: str) -> None:
        if not secret_keys:
            raise KeyringError("at least one secret key is needed")
        try:
            self._fernets = [Fernet(key.strip().encode()) for key in secret_keys]
        except (ValueError, TypeError) as exc:
            raise KeyringError("a secret key is not a valid Fernet key") from exc
        if len(pseudonym_key) < 32:
            raise KeyringError("the pseudonym key must be at least 32 characters")
        self._multi = MultiFernet(self._fernets)
        self._pseudonym_key = pseudonym_key.encode()

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError) as exc:
            # Fail loudly: a damaged row or a missing key must never read as empty.
            raise DecryptionError(
                "a stored value could not be decrypted: the row is damaged or its key is not in UTVAG_SECRET_KEYS"
            ) from exc

    def is_current(self, token: str) -> bool:
        """True when the token is already encrypted under the newest key."""
        try:
            self._fernets[0].decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise DecryptionError("a stored value could not be re-encrypted: its key is missing") from exc

    def lookup_hash(self, kind: str, address: str) -> str:
        """A stable keyed hash to find a person by address without storing the address."""
        message = f"{kind}:{address}".encode()
        return hmac.new(self._pseudonym_key, message, hashlib.sha256).hexdigest()


def new_secret_key() -> str:
    return Fernet.generate_key().decode("ascii")


def new_pseudonym_key() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def normalise_phone(raw: str, region: str = "SE") -> str:
    """E.164 form of a phone number; Swedish forms like 070-123 45 67 are understood."""
    text = raw.strip()
    if text.lower().startswith("whatsapp:"):
        text = text.split(":", 1)[1]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_active: Keyring | None = None


def use_keyring(keyring: Keyring | None) -> None:
    """Install the keyring the encrypted column type uses (one per process)."""
    global _active
    _active = keyring


def active_keyring() -> Keyring:
    if _active is None:
        raise RuntimeError("no keyring installed: call storage.crypto.use_keyring() at start-up")
    return _active
