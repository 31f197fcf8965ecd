import pytest

from storage.crypto import DecryptionError, Keyring, KeyringError, new_pseudonym_key, new_secret_key, normalise_phone


def test_a_value_comes_back_and_is_not_stored_in_the_clear():
    keyring = Keyring([new_secret_key()], new_pseudonym_key())
    token = keyring.encrypt("+46701234567")
    assert "46701234567" not in token
    assert keyring.decrypt(token) == "+46701234567"


def test_one_flipped_byte_fails_loudly():
    keyring = Keyring([new_secret_key()], new_pseudonym_key())
    token = bytearray(keyring.encrypt("Jag behöver hjälp").encode())
    token[40] = ord("A") if token[40] != ord("A") else ord("B")
    with pytest.raises(DecryptionError, match="could not be decrypted"):
        keyring.decrypt(token.decode())


def test_a_value_under_an_old_key_still_reads_until_the_key_is_dropped():
    old, new, pseudonym = new_secret_key(), new_secret_key(), new_pseudonym_key()
    token = Keyring([old], pseudonym).encrypt("hemligt")
    both = Keyring([new, old], pseudonym)
    assert both.decrypt(token) == "hemligt"
    assert not both.is_current(token)
    rotated = both.rotate(token)
    assert both.is_current(rotated)
    assert Keyring([new], pseudonym).decrypt(rotated) == "hemligt"
    with pytest.raises(DecryptionError):
        Keyring([new], pseudonym).decrypt(token)


def test_the_lookup_hash_is_stable_and_keyed():
    pseudonym = new_pseudonym_key()
    one = Keyring([new_secret_key()], pseudonym)
    other_secret = Keyring([new_secret_key()], pseudonym)
    other_pseudonym = Keyring([new_secret_key()], new_pseudonym_key())
    assert one.lookup_hash("sms", "+46701234567") == other_secret.lookup_hash("sms", "+46701234567")
    assert one.lookup_hash("sms", "+46701234567") != other_pseudonym.lookup_hash("sms", "+46701234567")
    assert one.lookup_hash("sms", "+46701234567") != one.lookup_hash("telegram", "+46701234567")


@pytest.mark.parametrize("raw", ["070-123 45 67", "0701234567", "+46 70 123 45 67", "0046701234567", "whatsapp:+46701234567"])
def test_swedish_phone_forms_normalise_to_e164(raw):
    assert normalise_phone(raw) == "+46701234567"


@pytest.mark.parametrize("raw", ["", "hej", "070", "+46 70 123"])
def test_what_is_not_a_phone_number_is_refused(raw):
    with pytest.raises(ValueError):
        normalise_phone(raw)


def test_malformed_keys_are_refused_with_a_reason():
    with pytest.raises(KeyringError, match="not a valid Fernet key"):
        Keyring(["not-a-key"], new_pseudonym_key())
    with pytest.raises(KeyringError, match="pseudonym key"):
        Keyring([new_secret_key()], "short")
