import pytest
from sqlalchemy import select

from bot.channels.base import InboundMessage
from handlers.turn import Inbound
from storage.crypto import Keyring, new_secret_key, use_keyring
from storage.models import ChannelIdentity, Conversation, Message, OutboxItem
from storage.rotation import count_rows, rotate_all


def fill(engine, people: int) -> None:
    for n in range(people):
        engine.accept(InboundMessage("telegram", f"u{n}", str(600000 + n), Inbound(kind="text", text=f"hej {n}")))
    engine.process_pending()


def read_everything(db) -> list[str | None]:
    values: list[str | None] = []
    with db.sessions() as session:
        for identity in session.scalars(select(ChannelIdentity)):
            values.append(identity.address)
        for message in session.scalars(select(Message)):
            values += [message.body, message.meta]
        for conversation in session.scalars(select(Conversation)):
            values.append(conversation.data)
        values += [item.payload for item in session.scalars(select(OutboxItem))]
    return sorted(values, key=str)


def test_after_rotating_and_dropping_the_old_key_every_row_still_decrypts(db, engine, keys):
    fill(engine, 30)
    before = read_everything(db)
    new = new_secret_key()
    both = Keyring([new, keys.secret], keys.pseudonym)
    use_keyring(both)
    changed = rotate_all(db.engine, both)
    assert changed > 30
    use_keyring(Keyring([new], keys.pseudonym))
    assert read_everything(db) == before
    assert rotate_all(db.engine, Keyring([new], keys.pseudonym)) == 0  # nothing left to do


def test_an_interrupted_rotation_finishes_when_run_again(db, engine, keys, monkeypatch):
    monkeypatch.setattr("storage.rotation.BATCH", 10)
    fill(engine, 40)
    before = read_everything(db)
    new = new_secret_key()
    both = Keyring([new, keys.secret], keys.pseudonym)
    use_keyring(both)
    seen = []

    def interrupt(batch: int) -> None:
        seen.append(batch)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate_all(db.engine, both, interrupt)
    rotate_all(db.engine, both)
    use_keyring(Keyring([new], keys.pseudonym))
    assert read_everything(db) == before


def test_progress_counts_every_row_once(db, engine, keys):
    fill(engine, 5)
    ticks: list[int] = []
    rotate_all(db.engine, Keyring([new_secret_key(), keys.secret], keys.pseudonym), ticks.append)
    assert sum(ticks) == count_rows(db.engine)
