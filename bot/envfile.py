"""Settings files read the way systemd's `EnvironmentFile=` reads them, so `--env-file` and the unit agree.

The rules follow systemd's parser (src/basic/env-file.c, `parse_env_file_internal`): a line starting with `#` or `;`
is a comment; `KEY=VALUE` with spaces around the key and around an unquoted value dropped; single quotes keep
everything, double quotes allow `\\"`, `\\\\`, `\\$` and `` \\` ``; a backslash at the end of a line continues it. What
systemd does not do, this does not either: a `# …` after a value is part of the value.
https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#EnvironmentFile=
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
WHITESPACE = " \t\r"
NEWLINE = "\n"
DOUBLE_QUOTE_ESCAPES = '"\\`$'


class EnvFileError(Exception):
    """The file cannot be read; the message says which and what to do."""


def parse(text: str) -> dict[str, str]:
    """KEY=VALUE pairs as systemd's EnvironmentFile= would set them; lines it ignores are ignored here too."""
    values: dict[str, str] = {}
    key, value = "", ""
    state = "pre_key"
    trailing = 0  # unquoted whitespace at the end of the value so far, trimmed when the line ends

    def finish() -> None:
        name = key.strip(WHITESPACE)
        if NAME.match(name):
            values[name] = value[: len(value) - trailing] if trailing else value

    for char in text + NEWLINE:
        if state == "pre_key":
            if char in "#;":
                state = "comment"
            elif char not in WHITESPACE + NEWLINE:
                key, state = char, "key"
        elif state == "key":
            if char == NEWLINE:
                state = "pre_key"  # a line without `=`: systemd ignores it
            elif char == "=":
                value, trailing, state = "", 0, "pre_value"
            else:
                key += char
        elif state == "pre_value":
            if char == NEWLINE:
                finish()
                state = "pre_key"
            elif char == "'":
                state = "single"
            elif char == '"':
                state = "double"
            elif char == "\\":
                trailing, state = 0, "value_escape"
            elif char not in WHITESPACE:
                value, trailing, state = value + char, 0, "value"
        elif state == "value":  # quotes here are literal: only a value's start (or a closed quote) opens one
            if char == NEWLINE:
                finish()
                state = "pre_key"
            elif char == "\\":
                trailing, state = 0, "value_escape"
            else:
                value += char
                trailing = trailing + 1 if char in WHITESPACE else 0
        elif state == "value_escape":
            if char != NEWLINE:  # an escaped newline continues the line; anything else stands for itself
                value += char
            state = "value"
        elif state == "single":
            if char == "'":
                trailing, state = 0, "pre_value"
            else:
                value += char
        elif state == "double":
            if char == '"':
                trailing, state = 0, "pre_value"
            elif char == "\\":
                state = "double_escape"
            else:
                value += char
        elif state == "double_escape":
            if char in DOUBLE_QUOTE_ESCAPES:
                value += char
            elif char != NEWLINE:
                value += "\\" + char
            state = "double"
        elif state == "comment":
            if char == "\\":
                state = "comment_escape"
            elif char == NEWLINE:
                state = "pre_key"
        elif state == "comment_escape":
            state = "comment"
    return values


def read(path: Path) -> dict[str, str]:
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EnvFileError(f"the settings file {path} does not exist: give the path of the service's file, /etc/utvag/utvag.env.") from None
    except PermissionError:
        raise EnvFileError(f"the settings file {path} cannot be read by this user: run the command as the service's user "
                           f"(sudo -u utvag …).") from None  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"the settings file {path} cannot be read ({type(exc).__name__}): check that it is a UTF-8 text file.") from None


def load(paths: list[Path], environ: MutableMapping[str, str] = os.environ) -> None:
    """Put each file's settings into the environment, later files over earlier ones; what the environment already
    says wins, as it does over `.env`."""
    merged: dict[str, str] = {}
    for path in paths:
        merged.update(read(path))
    for name, value in merged.items():
        environ.setdefault(name, value)
