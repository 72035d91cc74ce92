"""The provisioned Grafana dashboard only asks for metrics that LedgerFlow exports."""

import json
import re
from pathlib import Path

from django.conf import settings
from prometheus_client import REGISTRY

import ledgerflow.metrics  # noqa: F401 - registers the business metrics

DASHBOARD = Path(settings.BASE_DIR) / "deploy" / "grafana" / "dashboards" / "ledgerflow.json"


def exported_sample_names() -> set[str]:
    return {sample.name for family in REGISTRY.collect() for sample in family.samples} | {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in ("", "_total", "_bucket", "_count", "_sum")
    }


def test_every_ledgerflow_metric_in_the_dashboard_exists():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert exprs, "the dashboard has no queries"
    wanted = {name for expr in exprs for name in re.findall(r"\bledgerflow_[a-z_]+", expr)}
    assert wanted, "the dashboard shows no business metric"
    assert wanted - exported_sample_names() == set()
