"""gunicorn settings shared by `make run` (Procfile) and docker-compose.

Prometheus counters live per process; with PROMETHEUS_MULTIPROC_DIR set, every worker writes
its samples there and /metrics sums them. A dead worker's files are marked here.
"""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
