from sqlalchemy import select

from storage.models import Case
from tests.handlers.test_ask import started


def test_once_a_worker_has_the_case_free_text_is_for_them_not_a_menu(engine):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("Hur lång tid tar det?")
    with engine.sessions.begin() as session:
        session.scalar(select(Case)).state = "claimed"
    (ack,) = chat.send("Jag kan prata efter tre")
    assert ack == "Din kontaktperson har fått ditt meddelande.\nÄr du i fara: ring 112."
    assert chat.send("och på fredag") == []  # acknowledged once a day, not every message
    (reply,) = chat.send("de hotar att skjuta mig")
    assert "112" in reply  # danger detection still runs
