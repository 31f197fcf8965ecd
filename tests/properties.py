"""Shared settings and strategies for the property tests of everything that parses outside input.

Each such test runs 10 000 generated cases (UTVAG_PROPERTY_EXAMPLES makes fewer for a quick local run) and is
marked slow; CI runs them. Text includes what browsers and scripts can send and UTF-8 cannot carry: lone
surrogates, control characters, right-to-left marks, very long digit runs.
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("UTVAG_PROPERTY_EXAMPLES", "10000"))
PROPERTIES = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))

ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=())  # surrogates too
READABLE = st.characters(blacklist_categories=("Cs",))  # what a decoded form or Telegram's JSON can hold
ANY_TEXT = st.one_of(st.text(ANY_CHARACTER, max_size=40), st.sampled_from(["", " ", "RADERA", "JA", "1", "meny", "/start", "\u202e"]))
NUMBERS = st.one_of(st.integers(), st.integers(min_value=2**63 - 5, max_value=2**70), st.floats(allow_nan=True))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def json_bytes(value: object) -> bytes:
    return json.dumps(value).encode()  # ASCII, with lone surrogates as \\udXXX escapes
