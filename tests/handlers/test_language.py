import subprocess
import sys

import pytest

from handlers.language import plain_language


@pytest.mark.parametrize(("message", "language"), [
    ("kan nagon ringa mig", "sv"),
    ("min son behover hjalp", "sv"),
    ("jag vill söka hjälp", "sv"),
    ("hur ansoker man", "sv"),
    ("can someone call me", "en"),
    ("i need help with housing", "en"),
    ("my brother is in a gang", "en"),
])  # fmt: skip
def test_a_plain_first_message_tells_its_language_without_diacritics(message, language):
    assert plain_language(message) == language


@pytest.mark.parametrize("message", ["hej", "ok", "yo", "vad?", "asdf qwer", "", "🙏🙏"])
def test_a_message_that_cannot_tell_gives_no_language(message):
    assert plain_language(message) is None


def test_the_detector_adds_little_memory_to_the_process():
    script = (
        "import handlers.router\n"
        "def rss():\n"
        "    return next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmRSS'))\n"
        "before = rss()\n"
        "from handlers.language import plain_language\n"
        "plain_language('kan någon ringa mig'); plain_language('can someone call me please')\n"
        "print(rss() - before)\n"
    )
    grown_kb = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert grown_kb < 40_000  # the process must stay under 300 MB; the high-accuracy models alone took ~100 MB
