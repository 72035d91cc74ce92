"""The provisioned Grafana dashboard only asks for metrics that LedgerFlow exports."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings

from ledgerflow.metrics import scrape_registry

DASHBOARD = Path(settings.BASE_DIR) / "deploy" / "grafana" / "dashboards" / "ledgerflow.json"


def exported_sample_names() -> set[str]:
    # What /metrics serves: this process's metrics plus the state read at scrape time.
    families = list(scrape_registry().collect())
    return {sample.name for family in families for sample in family.samples} | {
        family.name + suffix
        for family in families
        for suffix in ("", "_total", "_bucket", "_count", "_sum")
    }


@pytest.mark.django_db
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
