"""The stand-in APIs in a process of their own, driven over a pipe, with timestamps on everything.

The stand-ins run in a separate process so they never compete with the Runtime for the GIL: on this 2-core machine
the Runtime gets one core and the stand-in the other, as a remote Telegram would be. Times are `time.monotonic()`,
which is one clock for every process on the machine.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from multiprocessing.connection import Client, Listener
from typing import Any

from bench.common import STAFF_CHAT, setup_logging
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI

TAG = re.compile(r"#s\d+")
# A step a simulated person takes: ("text", words) or ("callback", data), its tag, and whether it is the one that should
# raise a staff alert (whose latency is then measured from this step's injection).
Step = tuple[str, str, str, bool]


def question_session(tag: str, rng: random.Random) -> list[Step]:
    questions = ("Hur lång tid tar det innan jag får svar om boende?", "Kan ni hjälpa mig med skulder till Kronofogden?",
                 "Vad händer om jag söker men inte bor i området?", "Får min mamma veta att jag har skrivit hit?")  # fmt: skip
    return [("text", "fråga", tag, False), ("text", f"{tag} {rng.choice(questions)}", tag, True)]


def application_session(tag: str, rng: random.Random) -> list[Step]:
    need = rng.choice(("housing", "income", "debts", "studies", "safety"))
    return [("text", "ansök", tag, False), ("callback", "apply:me", tag, False), ("callback", "apply:yes", tag, False),
            ("callback", f"need:{need}", tag, False), ("callback", "apply:done", tag, False),
            ("callback", "apply:change", tag, False), ("callback", "contact:meet", tag, False),
            ("text", f"{tag} tisdagar efter lunch", tag, False), ("callback", "apply:send", tag, True)]  # fmt: skip


def danger_session(tag: str, rng: random.Random) -> list[Step]:
    texts = ("de hotar att skjuta mig", "jag vill inte leva längre", "han har en pistol och väntar utanför", "de ska döda mig ikväll")
    return [("text", f"{tag} {rng.choice(texts)}", tag, True)]


SESSIONS = {"question": question_session, "application": application_session, "danger": danger_session}


class BenchBotAPI(FakeBotAPI):
    """FakeBotAPI that timestamps each injection and each send, and can play simulated people.

    A person waits for the bot's answer before their next step. A step's latency runs from its injection to the
    next message the bot sends to that chat, so the scripts use steps that each get exactly one answer."""

    def __init__(self) -> None:
        super().__init__()
        self.send_log: list[tuple[float, str, str]] = []  # (time, chat, text)
        self.step_log: list[tuple[str, str, str, float, float | None]] = []  # (chat, tag, kind, injected, answered)
        self.alert_marks: dict[str, float] = {}  # tag -> when the alerting step was injected
        self._awaiting: dict[str, deque[int]] = {}  # chat -> indexes into step_log waiting for an answer
        self._scripts: dict[str, deque[Step]] = {}
        self._ready: deque[str] = deque()
        self._mixed: dict[str, Any] | None = None
        self._stop_mixed = threading.Event()
        self._mixed_thread: threading.Thread | None = None
        self._last_reply_id: dict[str, int | None] = {}
        self.skipped_ticks = 0

    # -- recording ---------------------------------------------------------------------------------------

    def _record(self, name: str, p: dict, message_id: int | None) -> None:
        super()._record(name, p, message_id)
        now = time.monotonic()
        chat = str(p.get("chat_id"))
        # Staff posts whole (a joined post carries many alerts); others cut, to keep the log small.
        self.send_log.append((now, chat, str(p.get("text") or "")[: None if chat.startswith("-") else 120]))
        self._last_reply_id[chat] = message_id
        waiting = self._awaiting.get(chat)
        if not waiting:
            return
        index = waiting.popleft()
        chat_, tag, kind, injected, _ = self.step_log[index]
        self.step_log[index] = (chat_, tag, kind, injected, now)
        if self._mixed is not None:
            self._ready.append(chat)  # the mixed-traffic clock decides when they go on
            return
        script = self._scripts.get(chat)
        if script:
            self._step(chat, script.popleft(), message_id)

    def _step(self, chat: str, step: Step, reply_id: int | None) -> None:
        kind, value, tag, alerting = step
        now = time.monotonic()
        with self._lock:
            self.step_log.append((chat, tag, kind, now, None))
            self._awaiting.setdefault(chat, deque()).append(len(self.step_log) - 1)
            if alerting:
                self.alert_marks[tag] = now
        if kind == "text":
            self.inject_message(int(chat), value)
        else:
            self.inject_callback(int(chat), value, message_id=reply_id)

    def track(self, chat: int, text: str, tag: str = "", alerting: bool = False) -> None:
        """Inject one text message whose answer is timed."""
        self._step(str(chat), ("text", text, tag, alerting), None)

    # -- simulated people ----------------------------------------------------------------------------------

    def start_scripts(self, scripts: dict[int, list[Step]]) -> float:
        """Every chat starts its script at once and takes each next step when the previous one is answered."""
        with self._lock:
            for chat, steps in scripts.items():
                self._scripts[str(chat)] = deque(steps)
        started = time.monotonic()
        for chat in scripts:
            with self._lock:
                first = self._scripts[str(chat)].popleft()
            self._step(str(chat), first, None)
        return started

    def stop_scripts(self) -> None:
        """No further steps: what is under way is still answered and timed."""
        with self._lock:
            for script in self._scripts.values():
                script.clear()

    def wait_settled(self, timeout: float) -> bool:
        """Wait until every injected step is answered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answered, injected = self.progress()
            if answered >= injected:
                return True
            time.sleep(0.05)
        return False

    def start_mixed(self, chats: list[int], rate: float, seconds: float, weights: dict[str, float], seed: int = 1) -> None:
        """Open-loop mixed traffic: `rate` steps a second for `seconds`, each from a person whose last step is answered.

        A person with nothing left to do starts a new session (question, application or danger, by weight)."""
        rng = random.Random(seed)
        tags = itertools.count(1)
        kinds, cumulative = list(weights), list(itertools.accumulate(weights.values()))
        with self._lock:
            self._mixed = {"rate": rate, "seconds": seconds}
            self._ready.extend(str(chat) for chat in chats)

        def next_step(chat: str) -> Step:
            script = self._scripts.get(chat)
            if not script:
                kind = rng.choices(kinds, cum_weights=cumulative)[0]
                script = self._scripts[chat] = deque(SESSIONS[kind](f"#s{next(tags)}", rng))
            return script.popleft()

        def drive() -> None:
            start = time.monotonic()
            for tick in range(int(rate * seconds)):
                delay = start + tick / rate - time.monotonic()
                if delay > 0 and self._stop_mixed.wait(delay):
                    return
                with self._lock:
                    chat = self._ready.popleft() if self._ready else None
                    step = next_step(chat) if chat else None
                if chat is None or step is None:
                    self.skipped_ticks += 1
                    continue
                self._step(chat, step, self._last_message_id(chat))

        self._mixed_thread = threading.Thread(target=drive, name="mixed-traffic", daemon=True)
        self._mixed_thread.start()

    def _last_message_id(self, chat: str) -> int | None:
        with self._lock:
            return self._last_reply_id.get(chat)

    def mixed_done(self, timeout: float) -> bool:
        assert self._mixed_thread is not None
        self._mixed_thread.join(timeout)
        return not self._mixed_thread.is_alive()

    def stop_mixed(self) -> None:
        self._stop_mixed.set()

    # -- reading -----------------------------------------------------------------------------------------

    def progress(self) -> tuple[int, int]:
        """(answered steps, injected steps)."""
        with self._lock:
            return sum(1 for entry in self.step_log if entry[4] is not None), len(self.step_log)

    def wait_answered(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.progress()[0] >= count:
                return True
            time.sleep(0.05)
        return False

    def steps(self) -> list[tuple[str, str, str, float, float | None]]:
        with self._lock:
            return list(self.step_log)

    def sends(self, since: float = 0.0) -> list[tuple[float, str, str]]:
        with self._lock:
            return [entry for entry in self.send_log if entry[0] >= since]

    def staff_alerts(self) -> list[tuple[str, float, float]]:
        """(tag, injected, posted) for each staff post that carries a tag of an alerting step."""
        with self._lock:
            found = []
            for posted, chat, text in self.send_log:
                # A busy group gets several alerts joined in one post: every tag in it counts.
                for tag in TAG.findall(text) if chat == str(STAFF_CHAT) else []:
                    if tag in self.alert_marks:
                        found.append((tag, self.alert_marks[tag], posted))
            return found

    def alert_marks_copy(self) -> dict[str, float]:
        with self._lock:
            return dict(self.alert_marks)

    def count_sends(self, containing: str, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for t, _, text in self.send_log if t >= since and containing in text)

    def wait_count(self, containing: str, count: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.count_sends(containing)
            if found >= count:
                return found
            time.sleep(0.05)
        return self.count_sends(containing)

    def wait_staff_post(self, starting: str, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.sent(STAFF_CHAT)):
                if (message["text"] or "").startswith(starting):
                    return message
            time.sleep(0.05)
        return None

    def status_counts(self) -> dict[str, int]:
        """sendMessage answers by status, the staff group apart: {"200": …, "429": …, "staff 429": …}."""
        with self._lock:
            counts: dict[str, int] = {}
            for call in self._calls:
                if call["method"].lower() == "sendmessage":
                    key = ("staff " if str(call["params"].get("chat_id")) == str(STAFF_CHAT) else "") + str(call["status"])
                    counts[key] = counts.get(key, 0) + 1
            return counts

    def get(self, name: str) -> Any:
        return getattr(self, name)


class BenchTwilioAPI(FakeTwilioAPI):
    """FakeTwilioAPI that enforces a sender's segments per second over any one-second window, as Twilio's MPS does,
    answering 429 / 20429 beyond it, and timestamps what it accepts."""

    def __init__(self) -> None:
        super().__init__()
        self.callbacks_enabled = False  # no status callbacks: nothing listens for them in this benchmark
        self.segments_per_second: float | None = None
        self.accepted: list[tuple[float, int]] = []  # (time, segments)
        self.refused = 0

    def limit(self, segments_per_second: float | None) -> None:
        with self._lock:
            self.segments_per_second = segments_per_second

    def _refusal(self, request: Any, params: dict) -> Any:
        failure = super()._refusal(request, params)
        if failure is not None or self.segments_per_second is None:
            return failure
        from bot.channels.sms import segments

        now, units = time.monotonic(), segments(params.get("Body", ""))
        window = sum(count for at, count in self.accepted if now - at < 1.0)
        if window + units > self.segments_per_second:
            self.refused += 1
            from tests.fakes.twilio_api import _Failure

            return _Failure(429, 20429, None)
        self.accepted.append((now, units))
        return None

    def get(self, name: str) -> Any:
        return getattr(self, name)


def _serve(address: str, authkey: bytes, kind: str) -> None:
    setup_logging()
    api: Any = BenchBotAPI() if kind == "telegram" else BenchTwilioAPI()
    api.start()
    connection = Client(address, authkey=authkey)
    connection.send({"url": api.url, "token": getattr(api, "token", None), "base_url": getattr(api, "base_url", None),
                     "account_sid": getattr(api, "account_sid", None), "auth_token": getattr(api, "auth_token", None)})  # fmt: skip
    while True:
        try:
            method, args, kwargs = connection.recv()
        except EOFError:
            break
        if method == "__stop__":
            api.stop()
            connection.send(("ok", None))
            break
        try:
            connection.send(("ok", getattr(api, method)(*args, **kwargs)))
        except Exception as exc:
            connection.send(("error", f"{type(exc).__name__}: {exc}"))


class StandIn:
    """A stand-in API in its own process (`python -m bench.standin`); any method of BenchBotAPI / BenchTwilioAPI is
    called through a local socket."""

    def __init__(self, kind: str = "telegram") -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="utvag-standin-")
        address, authkey = os.path.join(self._folder.name, "socket"), secrets.token_bytes(16)
        listener = Listener(address, family="AF_UNIX", authkey=authkey)
        self.process = subprocess.Popen([sys.executable, "-m", "bench.standin", kind, address, authkey.hex()])
        listener._listener._socket.settimeout(60)  # type: ignore[attr-defined]
        try:
            self._connection = listener.accept()
        finally:
            listener.close()
        self._lock = threading.Lock()
        self.info = self._connection.recv()
        self.url, self.token, self.base_url = self.info["url"], self.info["token"], self.info["base_url"]

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self._connection.send((method, args, kwargs))
            status, value = self._connection.recv()
        if status != "ok":
            raise RuntimeError(f"stand-in {method}: {value}")
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def close(self) -> None:
        try:
            self.call("__stop__")
        except Exception:  # noqa: S110 - it may be gone already
            pass
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._folder.cleanup()

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    _serve(sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[1])
