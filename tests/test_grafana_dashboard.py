"""The sample Grafana dashboard only graphs metrics the switch exports."""

import json
import re
from pathlib import Path

import requests

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana-dashboard.json"


def test_every_metric_the_dashboard_queries_exists(integrator, base_url):
    integrator.pay()
    exported = requests.get(f"{base_url}/metrics").text
    expressions = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]
    used = {name for expr in expressions for name in re.findall(r"\b(mospay_[a-z_]+)", expr)}

    assert used and all(name in exported for name in used), used - {n for n in used if n in exported}
