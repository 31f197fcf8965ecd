"""Settings files read as systemd's EnvironmentFile= reads them (src/basic/env-file.c)."""

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
