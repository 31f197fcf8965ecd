"""Settings files read as systemd's EnvironmentFile= reads them (src/basic/env-file.c)."""

import re
import subprocess
from pathlib import Path

import pytest

from bot.envfile import EnvFileError, load, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1\n", {"A": "1"}),
        ("# a comment\n; another\nA=1", {"A": "1"}),
        ("A=-1001234   # the staff group\n", {"A": "-1001234   # the staff group"}),  # systemd keeps it: the old guide's trap
        ("  A  =   spaced value   \n", {"A": "spaced value"}),
        ("A='single # kept'\n", {"A": "single # kept"}),
        ('A="double \\"quoted\\" \\\\ \\$HOME \\n"\n', {"A": 'double "quoted" \\ $HOME \\n'}),
        ("A='one' 'two'\n", {"A": "onetwo"}),
        ("A=mid'quote\n", {"A": "mid'quote"}),  # only a value's start opens a quote
        ("A=first \\\n  second\n", {"A": "first   second"}),  # an escaped newline continues the line
        ("A=x\\ \n", {"A": "x "}),  # an escaped space is kept
        ("A=\nB=\n", {"A": "", "B": ""}),
        ("NO_EQUALS_SIGN\n1BAD=x\nA-B=y\nOK=z\n", {"OK": "z"}),  # lines systemd ignores
        ("A=1\nA=2\n", {"A": "2"}),
        ("# comment \\\nA=continued comment\nB=1\n", {"B": "1"}),
    ],
)
def test_values_are_what_systemd_would_set(text, expected):
    assert parse(text) == expected


def test_later_files_win_and_the_environment_wins_over_all(tmp_path):
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    first.write_text("UTVAG_HTTP_PORT=1\nUTVAG_TIMEZONE=Europe/Oslo\nUTVAG_PROFILE=a\n")
    second.write_text("UTVAG_HTTP_PORT=2\nUTVAG_PROFILE=b\n")
    environ = {"UTVAG_PROFILE": "from the environment"}
    load([first, second], environ)
    assert environ == {"UTVAG_HTTP_PORT": "2", "UTVAG_TIMEZONE": "Europe/Oslo", "UTVAG_PROFILE": "from the environment"}


def test_a_file_that_cannot_be_read_is_named(tmp_path):
    with pytest.raises(EnvFileError, match="does not exist"):
        load([tmp_path / "missing.env"], {})
    (tmp_path / "binary.env").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(EnvFileError, match="UTF-8"):
        load([tmp_path / "binary.env"], {})


GENERATOR = "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator"
TRICKY = (
    "# a comment\n; another\nT_PLAIN=1\nT_COMMENT=-1001234   # the staff group\n  T_SPACED  =   spaced value   \n"
    "T_SINGLE='single # kept'\nT_DOUBLE=\"double \\\"quoted\\\" \\\\ done\"\nT_TWO='one' 'two'\nT_MID=mid'quote\n"
    "T_CONT=first \\\n  second\nT_EMPTY=\nNO_EQUALS\nT_AGAIN=1\nT_AGAIN=2\n"
)


@pytest.mark.skipif(not Path(GENERATOR).exists(), reason="systemd's environment.d generator is not installed")
@pytest.mark.parametrize("text", [TRICKY, (Path(__file__).parents[2] / "docs" / "deploy" / "utvag.env.example").read_text()])
def test_the_parser_agrees_with_systemds_own(tmp_path, text):
    """systemd's environment.d generator reads its files with the same function as EnvironmentFile= (load_env_file),
    and prints what it read: run it on the text and compare. (environment.d then expands $VARIABLES; none are used.)"""
    folder = tmp_path / "environment.d"
    folder.mkdir()
    (folder / "50-utvag.conf").write_text(text)
    printed = subprocess.run([GENERATOR], env={"XDG_CONFIG_HOME": str(tmp_path)}, capture_output=True, text=True, timeout=30, check=True)
    systemd = {}
    for line in printed.stdout.splitlines():
        name, value = line.split("=", 1)
        if value.startswith('"') and value.endswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        systemd[name] = value
    ours = {name: value for name, value in parse(text).items() if value}  # the generator leaves empty ones out
    assert "$" not in text
    assert {name: systemd[name] for name in ours} == ours
    assert not {name for name in systemd if name.startswith(("T_", "UTVAG_"))} - set(ours)
