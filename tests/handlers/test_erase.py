import asyncio

import pytest
from sqlalchemy import inspect, select, text

from bot.channels.base import ChannelInfo
from bot.dispatcher import Dispatcher
from storage.models import Case, OutboxItem
from tests.handlers.test_ask import started


class Collect:
    name = "telegram"
    info = ChannelInfo()

    def __init__(self):
        self.sent = []

    async def pace(self, message): ...

    def unpace(self, message): ...

    async def send(self, message):
        self.sent.append(message)
        return "1"


def test_erase_asks_first_then_leaves_nothing_that_points_to_the_person(db, engine, clock):
    chat = started(engine, address="918273645", title="Radera")
    chat.press("Ställ en fråga")
    chat.send("Jag heter Kalle och behöver hjälp")
    contact_id = chat.contact_id
    (confirm,) = chat.send("RADERA")
    assert confirm.startswith("Vill du att vi raderar allt")
    chat.press("JA, radera")
    channel = Collect()
    asyncio.run(Dispatcher(db.sessions, {"telegram": channel}, clock, staff_chat_id=-100).deliver_due(0))
    assert [message.text for message in channel.sent][-1].startswith("Klart. Allt om dig är raderat.")
    assert channel.sent[-1].address == "918273645"
    with db.engine.connect() as connection:
        for table in inspect(db.engine).get_table_names():
            if table == "alembic_version":
                continue
            for row in connection.execute(text(f"select * from {table}")):
                assert contact_id not in [str(value) for value in row], table
        assert connection.scalar(text("select count(*) from contacts")) == 0
        assert connection.scalar(text("select count(*) from messages")) == 0
        assert connection.scalar(text("select count(*) from channel_identities")) == 0
    with db.sessions() as session:
        case = session.scalar(select(Case))
        assert case.kind == "question" and case.summary is None and case.contact_id is None  # the count stays
        assert session.scalar(select(OutboxItem).where(OutboxItem.target == "address")).payload is None
        assert all("Kalle" not in (item.payload or "") for item in session.scalars(select(OutboxItem)))


def test_anything_but_yes_keeps_everything(engine):
    chat = started(engine)
    chat.send("/radera")
    kept, menu = chat.press("Nej")
    assert kept == "Ingenting raderades."
    assert chat.send("delete")[0].startswith("Vill du att vi raderar")
    assert chat.send("hmm")[0] == "Ingenting raderades."


def test_erase_in_english(engine):
    chat = started(engine, "English")
    (confirm,) = chat.send("delete")
    assert "Reply YES" in confirm
    assert chat.send("yes") == []  # the farewell goes out by itself, to where they wrote from


def claim_the_case(engine):
    with engine.sessions.begin() as session:
        session.scalar(select(Case)).state = "claimed"


def contacts(engine) -> int:
    with engine.sessions() as session:
        return session.scalar(text("select count(*) from contacts"))


def test_yes_erases_even_when_a_worker_has_the_case(engine):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("Hur lång tid tar det?")
    claim_the_case(engine)
    assert chat.send("Hej igen") == ["Din kontaktperson har fått ditt meddelande.\nÄr du i fara: ring 112."]
    (confirm,) = chat.send("RADERA")
    assert confirm.startswith("Vill du att vi raderar allt")
    assert chat.send("JA") == []  # not relayed to the worker: erased, and the farewell goes out by itself
    assert contacts(engine) == 0


def test_on_sms_the_number_of_the_yes_option_erases_a_claimed_case(engine):
    chat = started(engine, channel="sms", address="+46701234567")
    chat.press("Ställ en fråga")
    chat.send("Hur lång tid tar det?")
    claim_the_case(engine)
    chat.send("jag kan prata efter tre")  # relayed, acknowledged
    (confirm,) = chat.send("RADERA")
    assert "Svara JA" in confirm and chat.labels == ["JA, radera", "Nej"]
    assert chat.press("JA, radera") == []  # on SMS: "1"
    assert contacts(engine) == 0


def test_on_sms_a_typed_yes_erases_a_claimed_case(engine):
    chat = started(engine, channel="sms", address="+46701234568")
    chat.press("Ställ en fråga")
    chat.send("Hur lång tid tar det?")
    claim_the_case(engine)
    chat.send("RADERA")
    assert chat.send("Ja") == []
    assert contacts(engine) == 0


def test_no_keeps_a_claimed_case_and_nothing_is_relayed(engine):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("Hur lång tid tar det?")
    claim_the_case(engine)
    chat.send("RADERA")
    assert chat.send("nej")[0] == "Ingenting raderades."
    assert contacts(engine) == 1


def test_after_erasure_nothing_of_the_person_is_left_in_the_sqlite_files(db, engine, clock):
    if db.kind != "sqlite":
        pytest.skip("PostgreSQL keeps dead rows until VACUUM: docs/operator.md says so")
    chat = started(engine, address="918273646")
    chat.press("Ställ en fråga")
    chat.send("Jag heter Kalle och bor på Råckstavägen")
    with db.engine.connect() as connection:
        queries = ("select body from messages where body is not null", "select address, address_hash from channel_identities",
                   "select summary from cases", "select data from conversations")
        stored = [row for query in queries for row in connection.execute(text(query)).all()]
    secrets = [value.encode() for row in stored for value in row if value]
    assert len(secrets) > 5
    chat.send("RADERA")
    chat.press("JA, radera")
    asyncio.run(Dispatcher(db.sessions, {"telegram": Collect()}, clock, staff_chat_id=-100).deliver_due(0))
    files = [path for path in db.path.parent.iterdir() if path.name.startswith(db.path.name)]
    content = b"".join(path.read_bytes() for path in files)
    assert [secret for secret in secrets if secret in content] == []


def test_stop_on_sms_still_stops_while_erasure_waits_for_its_answer(engine):
    chat = started(engine, channel="sms", address="+46701234569")
    chat.send("RADERA")
    assert chat.send("SLUTA")[0].startswith("Du får inga fler meddelanden")
    with engine.sessions() as session:
        assert session.scalar(text("select stopped_at from contacts")) is not None


def test_a_stopped_person_who_answers_yes_to_erasure_is_erased_not_restarted(engine):
    chat = started(engine, "English", channel="sms", address="+46701234570")
    chat.send("STOP")
    chat.send("DELETE")
    assert chat.send("yes") == []  # "yes" is also SMS's START; here it answers the question just asked
    assert contacts(engine) == 0
