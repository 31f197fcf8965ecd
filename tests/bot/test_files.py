"""Files Utväg writes outside the database: new ones only, and their owner's alone whatever the umask."""

import os
import stat

import pytest

from bot.files import create_private


def test_a_new_file_is_the_owners_alone_under_a_permissive_umask(tmp_path):
    old = os.umask(0o000)
    try:
        os.close(create_private(tmp_path / "keys.env"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "keys.env").st_mode) == 0o600


def test_an_existing_file_is_never_written_over(tmp_path):
    (tmp_path / "keys.env").write_text("the old keys")
    with pytest.raises(FileExistsError):
        create_private(tmp_path / "keys.env")
    assert (tmp_path / "keys.env").read_text() == "the old keys"
