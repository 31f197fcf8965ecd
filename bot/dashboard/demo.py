"""The demo's staff login, and sample cases made by made-up visitors through the real engine."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.base import InboundMessage
from bot.dashboard.auth import hash_password, verify_password
from handlers.turn import Inbound
from storage.db import owner_only_folder
from storage.models import AuditAction, Message, Staff
from storage.staff import add_staff, audit

DEMO_NAME = "Demo"


def demo_staff(sessions: sessionmaker[Session], path: Path, now: datetime) -> tuple[str, str]:
    """The demo lead's name and password: made once, kept in `path` (mode 0600) and printed at every start."""
    if path.exists():
        password = path.read_text().strip()
    else:
        password = secrets.token_urlsafe(12)
        owner_only_folder(path.parent)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(password + "\n")
    with sessions.begin() as session:
        member = session.scalar(select(Staff).where(Staff.name == DEMO_NAME, Staff.removed_at.is_(None)))
        if member is None:
            member = add_staff(session, name=DEMO_NAME, role="lead", now=now, signoff=DEMO_NAME)
            audit(session, actor="demo", action=AuditAction.STAFF_ADDED, now=now, detail=f"staff:{member.id} role lead")
        if not verify_password(member.password_hash, password):  # a new database, or the file was replaced
            member.password_hash = hash_password(password)
    return DEMO_NAME, password


# Each visitor's messages, as the web chat would send them: (choice key or None, text). The visitors' ids are
# random, like any visitor's; fixed provider ids make a second `--sample-data` start a no-op.
SAMPLES: dict[str, list[tuple[str | None, str]]] = {
    "application-housing": [("lang:sv", "Svenska"), ("menu:apply", "Ansök om stöd"), ("apply:me", "Mig själv"), ("apply:yes", "Ja"),
                            ("need:housing", "Boende"), ("need:income", "Inkomst eller jobb"), ("apply:done", "Klar"),
                            ("apply:send", "Skicka")],
    "question-wait": [("lang:sv", "Svenska"), ("menu:ask", "Ställ en fråga"),
                      (None, "Hur lång tid tar det innan jag får träffa någon? Jag vill komma bort från allt det här.")],
    "relative-application": [("lang:sv", "Svenska"), ("menu:apply", "Ansök om stöd"), ("apply:other", "Någon som står mig nära"),
                             ("apply:unsure", "Vet inte"), ("need:debts", "Skulder"), ("need:family", "Familj"),
                             ("apply:done", "Klar"), ("apply:send", "Skicka")],
    "danger": [("lang:sv", "Svenska"), (None, "de hotar att döda mig om jag inte betalar till fredag")],
}  # fmt: skip


def add_sample_cases(runtime: object) -> int:
    """Feed the sample conversations through `runtime.engine` (accept, then process); returns messages accepted."""
    engine = runtime.engine  # type: ignore[attr-defined]
    accepted = 0
    for name, steps in SAMPLES.items():
        with engine.sessions() as session:
            if session.scalar(select(Message.id).where(Message.channel == "webchat", Message.provider_id == f"sample:{name}:0")):
                continue  # added at an earlier start
        visitor = secrets.token_urlsafe(24)  # nobody can guess it and open the sample chat from the web
        messages = [Inbound(kind="start", text="/start")]
        messages += [Inbound(kind="choice", choice=key, text=text) if key else Inbound(kind="text", text=text) for key, text in steps]
        for step, content in enumerate(messages):
            result = engine.accept(InboundMessage("webchat", f"sample:{name}:{step}", visitor, content))
            accepted += 0 if result.duplicate else 1
            engine.process_pending()
    return accepted
