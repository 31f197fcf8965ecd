"""The Runtime alone in a process, for the schedules benchmark: reports start-up time and memory as JSON lines.

Start-up is construction (migrations included) plus start until `runtime.started` is set; the imports come first and
are reported apart. Send "stop" on standard input to end it."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

from bench.common import rss_mb, setup_logging


def main() -> None:
    arguments = json.loads(sys.argv[1])
    setup_logging()
    imported = time.monotonic()
    import bot.app  # noqa: F401 - the imports, timed apart from start-up
    from bench.common import BenchClock, Keys, RunningRuntime, runtime_settings
    from storage.crypto import Keyring, use_keyring

    ticks = time_scheduled_work()
    keys = Keys(arguments["secret"], arguments["pseudonym"])
    use_keyring(Keyring([keys.secret], keys.pseudonym))
    import_seconds = time.monotonic() - imported
    before, _ = rss_mb()
    clock = BenchClock(datetime.fromisoformat(arguments["start"]), arguments["origin"])
    settings = runtime_settings(keys, arguments["url"], arguments["token"], arguments["base_url"])
    running = RunningRuntime(settings, clock)
    after, _ = rss_mb()
    print(json.dumps({"startup_s": round(running.startup_seconds, 2), "import_s": round(import_seconds, 2),
                      "rss_before_mb": round(before, 1), "rss_started_mb": round(after, 1)}), flush=True)  # fmt: skip
    sys.stdin.readline()
    end, peak = rss_mb()
    running.stop()
    print(json.dumps({"rss_end_mb": round(end, 1), "rss_peak_mb": round(peak, 1), "ticks": len(ticks["frequent"]),
                      "full_ticks": len(ticks["work"]), "tick_max_s": round(max(ticks["work"] + ticks["frequent"], default=0), 2),
                      "timers_max_s": round(max(ticks["timers"], default=0), 2)}), flush=True)  # fmt: skip


def time_scheduled_work() -> dict[str, list[float]]:
    """Wrap Engine.scheduled_work (every 20 s), Engine.frequent_work (every tick, a second) and Engine.run_timers (in
    this process only) to time each scheduler tick."""
    from bot.engine import Engine

    ticks: dict[str, list[float]] = {"work": [], "frequent": [], "timers": []}
    for name, key in (("scheduled_work", "work"), ("frequent_work", "frequent"), ("run_timers", "timers")):
        original = getattr(Engine, name)

        def timed(self: Engine, *args: object, _original: object = original, _key: str = key, **kwargs: object) -> object:
            started = time.monotonic()
            try:
                return _original(self, *args, **kwargs)  # type: ignore[operator]
            finally:
                ticks[_key].append(time.monotonic() - started)

        setattr(Engine, name, timed)
    return ticks


if __name__ == "__main__":
    main()
