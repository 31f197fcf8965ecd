import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from bot.channels.base import InboundMessage
from handlers.turn import Inbound
from storage.contacts import set_resume_code
from storage.crypto import DecryptionError
from storage.models import Case, Message, Staff

CHAT_ID = "918273645"
PHONE = "+46701234567"
SECRET_TEXT = "Jag heter Kalle Svensson och bor på Råckstavägen 12"
NOTE = "Ringde mamman, hon oroar sig för skulderna"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
VISITOR = "Zq3_visitor-id-issued-by-the-srv"  # a web-chat visitor id: works as a credential, so never in clear
CODE = "bord-katt-sol-regn"  # the words that reopen that chat


def fill(db, engine):
    engine.accept(InboundMessage("telegram", "1", CHAT_ID, Inbound(kind="text", text=SECRET_TEXT)))
    engine.accept(InboundMessage("sms", "SM1", "070-123 45 67", Inbound(kind="text", text=SECRET_TEXT)))
    engine.accept(InboundMessage("telegram", "2", CHAT_ID, Inbound(kind="contact", phone=PHONE)))
    engine.accept(InboundMessage("webchat", "3f2a", VISITOR, Inbound(kind="start", text="/start")))
    engine.process_pending()
    with db.sessions.begin() as session:
        assert set_resume_code(session, "webchat", VISITOR, CODE)
        contact_id = session.scalar(select(Message.contact_id).limit(1))
        session.add(Staff(name="Sara", role="lead", telegram_hash="x" * 64, telegram_id=CHAT_ID, phone=PHONE, created_at=NOW))
        session.add(Case(code="K-7F3A", contact_id=contact_id, kind="question", summary=SECRET_TEXT, notes=NOTE,
                         created_at=NOW, updated_at=NOW))  # fmt: skip


def raw_bytes(db) -> bytes:
    if db.kind == "sqlite":
        db.engine.dispose()
        return b"".join(path.read_bytes() for path in sorted(db.path.parent.glob("utvag.db*")))
    dump = subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-n", db.schema],
        capture_output=True, check=True,
    )  # fmt: skip
    return dump.stdout


def test_the_raw_database_holds_no_address_number_or_text(db, engine):
    fill(db, engine)
    raw = raw_bytes(db)
    assert len(raw) > 10_000 and b"K-7F3A" in raw  # the dump is real: it holds the case code
    for secret in (CHAT_ID, PHONE, "0701234567", "070-123 45 67", SECRET_TEXT, "Kalle", "Råckstavägen", NOTE,
                   "Hej! Det här är Utväg", VISITOR, CODE, "bord"):  # fmt: skip
        assert secret.encode() not in raw, secret
        assert secret.encode("utf-16-le") not in raw, secret


def test_one_flipped_byte_in_a_stored_value_fails_loudly(db, engine):
    fill(db, engine)
    with db.engine.begin() as connection:
        token = connection.execute(text("select body from messages where direction = 'in' order by id limit 1")).scalar()
        damaged = token[:30] + ("A" if token[30] != "A" else "B") + token[31:]
        connection.execute(text("update messages set body = :body where id = 1"), {"body": damaged})
    with db.sessions() as session, pytest.raises(DecryptionError):
        session.get(Message, 1)  # values are decrypted as rows load


def test_an_unencrypted_value_written_behind_our_back_fails_loudly(db, engine):
    fill(db, engine)
    with db.engine.begin() as connection:
        connection.execute(text("update cases set notes = 'plain text'"))
    with db.sessions() as session, pytest.raises(DecryptionError):
        session.scalar(select(Case.notes))
