"""Runs the real `utvag` command as a separate process, the way an operator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

UTVAG = str(Path(sys.executable).parent / "utvag")
# Set by tests/conftest.py for each test: whether it is marked e2e. None outside pytest (the benchmarks).
E2E_MARKED: bool | None = None


def require_e2e_mark() -> None:
    """A test that starts `utvag` or the Runtime must be marked e2e, or .ci/run would not run it under shifted clocks."""
    if E2E_MARKED is False:
        raise AssertionError("this test starts utvag or the Runtime: mark it @pytest.mark.e2e")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def utvag(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    require_e2e_mark()
    return subprocess.run([UTVAG, *args], env=clean_env(env), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    # LD_PRELOAD and FAKETIME*: a suite run under Debian's faketime runs `utvag` at the same shifted moment.
    keep = {key: value for key, value in os.environ.items()
            if key in ("PATH", "HOME", "LANG", "TZ", "SYSTEMROOT", "LD_PRELOAD") or key.startswith("FAKETIME")}  # fmt: skip
    return {**keep, "PYTHONUNBUFFERED": "1", **extra}


class UtvagProcess:
    """`utvag run` (or demo) in the background, with its output kept for inspection."""

    def __init__(self, cwd: Path, env: dict[str, str], command: str = "run") -> None:
        self.cwd = cwd
        self.port = int(env.get("UTVAG_HTTP_PORT") or free_port())
        self.env = {**env, "UTVAG_HTTP_PORT": str(self.port)}
        self.command = command
        self.log_path = cwd / f"utvag-{command}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> UtvagProcess:
        require_e2e_mark()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([UTVAG, self.command], env=clean_env(self.env), cwd=self.cwd, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"utvag {self.command} exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"utvag {self.command} did not start:\n{self.logs()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, like a power cut."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> UtvagProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
