"""Run one CSV export in a fresh process and print its figures as JSON (bench/run.py).

    python bench/export_child.py OWNER_ID

A fresh process so that its peak RSS (VmHWM) is the export's alone, from a known baseline:
Django loaded, nothing else. The export is the Celery task's service (`build_export`).
"""

import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")

import django

django.setup()

from reporting.models import Export  # noqa: E402
from reporting.services import build_export  # noqa: E402


def status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. Not ru_maxrss: Linux carries it over from
    the parent through fork and exec, so a child of a big process reports the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: best effort


def main() -> None:
    export = Export.objects.create(owner_id=int(sys.argv[1]), kind=Export.Kind.ENTRIES)
    baseline = status_mib("VmRSS")
    started = time.perf_counter()
    build_export(export_id=export.pk)
    seconds = time.perf_counter() - started
    peak = status_mib("VmHWM")
    export.refresh_from_db()
    print(
        json.dumps(
            {
                "status": export.status,
                "rows": export.row_count,
                "seconds": seconds,
                "bytes": export.file.size if export.file else 0,
                "baseline_rss_mib": baseline,
                "peak_rss_mib": peak,
            }
        )
    )


if __name__ == "__main__":
    main()
