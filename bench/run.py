"""`make bench`: every benchmark on SQLite and on PostgreSQL, each in a fresh process; one table, printed and written
to bench/results/<date>-<sha>.md and bench/results/latest.md. See bench/README.md."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import POSTGRES_URL, RESULTS, env_float, postgres_reason

ROOT = Path(__file__).resolve().parent.parent
# (name, function in bench.scenarios, keyword arguments, databases)
RUNS: list[tuple[str, str, dict[str, Any], tuple[str, ...]]] = [
    ("standin", "standin_alone", {}, ("none",)),
    ("echo", "echo", {}, ("none",)),
    ("engine", "engine", {}, ("sqlite", "postgresql")),
    ("engine_lifted", "engine", {"lifted": True}, ("sqlite", "postgresql")),
    ("alerts", "alerts", {}, ("sqlite", "postgresql")),
    ("incident", "incident", {}, ("sqlite", "postgresql")),
    ("sms", "sms_pacing", {}, ("sqlite", "postgresql")),
    ("schedules", "schedules", {}, ("sqlite", "postgresql")),
]
SIZES = {
    "BENCH_USERS": "200", "BENCH_MESSAGES": "10", "BENCH_ENGINE_SECONDS": "12", "BENCH_ALERT_RATE": "50",
    "BENCH_ALERT_SECONDS": "12", "BENCH_ALERT_DRAIN": "10", "BENCH_ALERT_USERS": "600", "BENCH_INCIDENT_PARTICIPANTS": "5000",
    "BENCH_DANGER_MESSAGES": "20", "BENCH_DANGER_INTERVAL": "0.5", "BENCH_DRAIN_WINDOW": "15", "BENCH_SMS_MESSAGES": "100",
    "BENCH_SMS_RATE": "10", "BENCH_SCHEDULES": "100000", "BENCH_DUE": "2000", "BENCH_DUE_WINDOW": "80", "BENCH_DUE_LEAD": "6",
    "BENCH_DUE_DRAIN": "60", "BENCH_STANDIN_REQUESTS": "6000",
}  # fmt: skip


def one(name: str, db: str, out: str) -> None:
    """Run one benchmark in this process and write its figures as JSON."""
    from bench import scenarios
    from bench.common import setup_logging

    setup_logging()
    function, kwargs = next((function, kwargs) for run, function, kwargs, _ in RUNS if run == name)
    started = time.monotonic()
    result = getattr(scenarios, function)(**({"db": db} if db != "none" else {}), **kwargs)
    result["took_s"] = round(time.monotonic() - started, 1)
    Path(out).write_text(json.dumps(result, default=str))


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    info = {"cpu": cpu, "cores": str(os.cpu_count()), "memory": f"{memory / 1024 / 1024:.1f} GiB", "os": platform.platform(),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "postgresql": "not reachable"}  # fmt: skip
    if postgres_reason() is None:
        from sqlalchemy import create_engine, text

        probe = create_engine(POSTGRES_URL)
        with probe.connect() as connection:
            info["postgresql"] = str(connection.execute(text("show server_version")).scalar())
        probe.dispose()
    return info


def revision() -> str:
    """The checked-out commit, read from .git without running git; "worktree" when it cannot be read."""
    try:
        head = (ROOT / ".git" / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head[:7]
        ref = head.split(" ", 1)[1]
        path = ROOT / ".git" / ref
        if path.exists():
            return path.read_text().strip()[:7]
        for line in (ROOT / ".git" / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:7]
    except OSError:
        pass
    return "worktree"


# -- the table -----------------------------------------------------------------------------------------------------


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}".replace(",", " ")


def _cell(results: dict[tuple[str, str], Any], name: str, db: str, render: Any) -> str:
    result = results.get((name, db))
    if result is None:
        return "not run"
    if "error" in result:
        return f"error: {result['error'][:60]}"
    return render(result)


def _met(results: dict[tuple[str, str], Any], name: str, test: Any) -> str:
    marks = []
    for db in ("sqlite", "postgresql"):
        result = results.get((name, db))
        marks.append("–" if result is None or "error" in result else ("yes" if test(result) else "**no**"))
    return " / ".join(marks)


def table(results: dict[tuple[str, str], Any]) -> str:
    echo = results.get(("echo", "none"), {})
    standin = results.get(("standin", "none"), {})
    echo_rate = echo.get("rate")
    rows = []

    def row(figure: str, goal: str, name: str, render: Any, baseline: str, test: Any | None) -> None:
        met = _met(results, name, test) if test else "(diagnostic)"
        rows.append(f"| {figure} | {goal} | {_cell(results, name, 'sqlite', render)} | {_cell(results, name, 'postgresql', render)} "
                    f"| {baseline} | {met} |")  # fmt: skip

    half_echo = (echo_rate or 0) / 2
    size = {key: value for (_, _), result in results.items() for key, value in result.items()
            if key in ("users", "participants", "schedules", "due", "offered_rate")}  # fmt: skip
    row("1. Engine: messages/s fully processed (inject → reply seen), Telegram pacing as shipped", "≥ 1 000 and ≥ ½ echo",
        "engine", lambda r: f"{_n(r['rate'], 1)} msg/s ({r['answered']} msgs)",
        f"echo bot {_n(echo_rate, 1)} msg/s", lambda r: (r["rate"] or 0) >= max(1000, half_echo))  # fmt: skip
    row(f"1. Engine: latency p50 / p99, ms ({_n(size.get('users'))} people in flight)", "–", "engine",
        lambda r: f"{_n(r['p50_ms'])} / {_n(r['p99_ms'])}",
        f"echo bot {_n(echo.get('p50_ms'))} / {_n(echo.get('p99_ms'))}", None)  # fmt: skip
    row("1. Engine with Telegram pacing lifted (bench-only patch): msg/s; p50 / p99 ms", "–", "engine_lifted",
        lambda r: f"{_n(r['rate'], 1)} msg/s; {_n(r['p50_ms'])} / {_n(r['p99_ms'])}",
        f"stand-in alone {_n(standin.get('rate'))} req/s", None)  # fmt: skip
    row(f"2. Staff alert p99 at {_n(size.get('offered_rate'))} msg/s mixed traffic, ms (alerts posted / raised)", "≤ 250", "alerts",
        lambda r: f"{'≥ ' if r['censored'] else ''}{_n(r['alert_p99_ms'])} ({r['alerts_posted']}/{r['alerts']})", "–",
        lambda r: not r["censored"] and (r["alert_p99_ms"] or 1e12) <= 250)  # fmt: skip
    row("2. … replies to the people meanwhile: p99 ms (unanswered steps)", "–", "alerts",
        lambda r: f"{_n(r['reply_p99_ms'])} ({r['unanswered_steps']} of {r['injected']})", "–", None)  # fmt: skip
    row(f"3. Danger reply p99 while a {_n(size.get('participants'))}-recipient outreach drains, ms", "≤ 1 000", "incident",
        lambda r: f"{_n(r['danger_p99_ms'])} ({r['danger_answered']}/{r['dangers']})", "–",
        lambda r: r["danger_answered"] == r["dangers"] and (r["danger_p99_ms"] or 1e12) <= 1000)  # fmt: skip
    row("3. … confirm → first outreach message, s; a danger reply written 1 s after confirm, ms", "–", "incident",
        lambda r: f"{_n(r['confirm_to_first_s'], 1)}; {_n(r['danger_during_confirm_ms'])}", "–", None)  # fmt: skip
    # The limit is on everything the bot sends; the outreach gives way to the danger answers and alerts sent meanwhile.
    row("4. Telegram send rate during the drain, msg/s: all sends (outreach alone); 429s", "≥ 28.5 (95 % of 30), no 429", "incident",
        lambda r: f"{_n(r['total_rate'], 1)} ({_n(r['bulk_rate'], 1)}); {r['too_many']} × 429", "limit 30 msg/s",
        lambda r: r["total_rate"] >= 28.5 and r["too_many"] == 0)  # fmt: skip
    row("4. SMS rate, segments/s (steady); 429s", "≥ 9.5 (95 % of 10), no 429", "sms",
        lambda r: f"{_n(r['rate'], 2)} ({_n(r['steady_rate'], 2)}); {r['refused_429']} × 429", "limit 10 segments/s",
        lambda r: (r["rate"] or 0) >= 9.5 and r["refused_429"] == 0)  # fmt: skip
    row(f"5. Start-up with {_n(size.get('schedules'))} schedules (construct + start), s", "≤ 5", "schedules",
        lambda r: _n(r["startup_s"], 2), "–", lambda r: r["startup_s"] <= 5)  # fmt: skip
    row("5. Resident memory: started / peak, MB", "≤ 300", "schedules", lambda r: f"{_n(r['rss_started_mb'])} / {_n(r['rss_peak_mb'])}",
        "–", lambda r: r["rss_peak_mb"] <= 300)  # fmt: skip
    row(f"5. Check-in lateness p99: queued / at the stand-in, s ({_n(size.get('due'))} due, evenly over a window)", "≤ 2",
        "schedules",
        lambda r: f"{_n(r['queued_p99_s'], 1)} / {_n(r['delivered_p99_s'], 1)} ({r['delivered']}/{r['due']} in {_n(r['window_s'])} s)", "–",
        lambda r: r["delivered"] == r["due"] and (r["delivered_p99_s"] or 1e9) <= 2)  # fmt: skip
    head = "| Figure | Goal | SQLite | PostgreSQL | Baseline | Met (SQLite / PostgreSQL) |\n|---|---|---|---|---|---|\n"
    return head + "\n".join(rows) + "\n"


def report(results: dict[tuple[str, str], Any], info: dict[str, str], sizes: dict[str, str], took: float, stamp: str) -> str:
    lines = [f"# Utväg benchmarks, {stamp}", "", f"Revision `{revision()}`; `make bench` took {took / 60:.1f} min.", "",
             "Machine: " + "; ".join(f"{key} {value}" for key, value in info.items()) + ".", "", table(results), "",
             "Sizes: " + ", ".join(f"`{key}={value}`" for key, value in sizes.items()) + ".", "",
             "What each figure means and how it is measured: bench/README.md. Every figure by run:", "", "```"]  # fmt: skip
    for (name, db), result in results.items():
        lines.append(f"{name:14} {db:10} {json.dumps(result, default=str)}")
    return "\n".join(lines + ["```", ""])


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        one(sys.argv[2], sys.argv[3], sys.argv[4])
        return 0
    started = time.monotonic()
    sizes = {key: os.environ.get(key, default) for key, default in SIZES.items()}
    env = {**os.environ, **sizes, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    databases = {name for name in os.environ.get("BENCH_DBS", "sqlite,postgresql").split(",") if name} | {"none"}
    reason = postgres_reason()
    if reason:
        print(f"bench: {reason}; the PostgreSQL column is skipped", file=sys.stderr)
        databases.discard("postgresql")
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    info = machine()
    results: dict[tuple[str, str], Any] = {}
    for name, _, _, dbs in RUNS:
        if only and name not in only:
            continue
        for db in dbs:
            if db not in databases:
                continue
            out = logs / f"{name}-{db}.json"
            out.unlink(missing_ok=True)
            began = time.monotonic()
            print(f"bench: {name} on {db} …", end=" ", flush=True)
            command = [sys.executable, "-m", "bench.run", "--one", name, db, str(out)]
            with (logs / f"{name}-{db}.log").open("w") as log:
                try:
                    code = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          timeout=env_float("BENCH_RUN_TIMEOUT", 400)).returncode
                except subprocess.TimeoutExpired:
                    code = -1
            if out.exists():
                results[(name, db)] = json.loads(out.read_text())
            else:
                tail = (logs / f"{name}-{db}.log").read_text().strip().splitlines()[-1:] or ["no output"]
                results[(name, db)] = {"error": f"exit {code}: {tail[0]}"}
            print(f"{time.monotonic() - began:.0f} s", flush=True)
    took = time.monotonic() - started
    now = datetime.now(UTC)
    text = report(results, info, sizes, took, now.strftime("%Y-%m-%d %H:%M UTC"))
    print()
    print(table(results))
    print(f"bench: took {took / 60:.1f} min")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{now:%Y-%m-%d}-{revision()}.md").write_text(text)
    (RESULTS / "latest.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
