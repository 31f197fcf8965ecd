"""Writes docs/conversations.md from the conversation tests when UTVAG_CONVERSATIONS_DOC names the file."""

import os
from pathlib import Path

from tests.handlers.conversation import TRANSCRIPTS

HEADER = """# Utväg conversations, as the person sees them

Generated from the conversation tests (`make docs`); do not edit by hand. Change the texts in
`handlers/texts/*.toml` and the profile in `handlers/profile.toml`, then run `make docs`.
Buttons are shown as [label]; on SMS they arrive as numbered lines.
"""


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("UTVAG_CONVERSATIONS_DOC")
    if not target or not TRANSCRIPTS:
        return
    parts = [HEADER]
    for title in sorted(TRANSCRIPTS):
        parts.append(f"\n## {title}\n")
        for who, text in TRANSCRIPTS[title]:
            speaker = "**Du:**" if who == "person" else "**Utväg:**"
            quoted = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
            parts.append(f"{speaker}\n{quoted}\n")
    Path(target).write_text("\n".join(parts), encoding="utf-8")
