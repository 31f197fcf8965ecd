"""docs/grafana-dashboard.json loads, and every metric it charts is one /metrics serves."""

import json
import re
from pathlib import Path

from bot.metrics import Metrics

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"
SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def served(db, clock) -> set[str]:
    """Every series name /metrics can serve (a labelled counter has no samples until something is counted)."""
    names = set()
    for family in Metrics(db.sessions, clock.now).registry.collect():
        names.add(family.name)
        names.update({"counter": [f"{family.name}_total"], "histogram": [f"{family.name}{s}" for s in SUFFIXES[1:]]}.get(family.type, []))
    return names


def test_every_panel_charts_a_metric_that_exists(sqlite_db, clock):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"\butvag_[a-z_]+", expr)}
    names = served(sqlite_db, clock)
    assert used and used <= names, sorted(used - names)
    # Everything served is charted, so a metric added later is not forgotten on the dashboard.
    charted = {name.removesuffix(suffix) for name in used for suffix in SUFFIXES if name.endswith(suffix)} | used
    families = {name for name in names if not name.endswith(("_created",))}
    assert {name for name in families if not name.endswith(SUFFIXES)} <= charted | {"utvag_engine_seconds"}
