"""gunicorn settings: the one web command line, for the Procfile, the image and compose.

`gunicorn -c gunicorn.conf.py` is the whole command; sizes come from the environment:
  WEB_CONCURRENCY   worker processes (default 2)
  GUNICORN_THREADS  threads per worker (default 4)
  PORT              port to listen on (default 8000)
  GUNICORN_HOST     address to listen on (default 127.0.0.1; the image sets 0.0.0.0)
  METRICS_PORT      if set, the master also serves every worker's metrics on this port (compose:
                    Prometheus finds each web replica by DNS and scrapes it there, see below)

Prometheus counters live per process; with PROMETHEUS_MULTIPROC_DIR set, every worker writes
its samples there and /metrics sums them. A dead worker's files are marked here.
"""

import os

wsgi_app = "ledgerflow.wsgi:application"
bind = [f"{os.environ.get('GUNICORN_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
accesslog = "-"


def when_ready(server):
    """Serve the metrics of all workers on METRICS_PORT (compose only, inside its network).

    Prometheus discovers web replicas by DNS and scrapes them by IP address, which Django's
    ALLOWED_HOSTS would refuse on /metrics; this port is served by prometheus_client instead,
    with the same samples plus the state read at scrape time (ledgerflow.metrics.scrape_registry).
    """
    port = os.environ.get("METRICS_PORT")
    if not port:
        return
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")
    django.setup()
    from prometheus_client import start_http_server

    from ledgerflow.metrics import scrape_registry

    start_http_server(int(port), registry=scrape_registry(close_connections=True))
    server.log.info("metrics of all workers on port %s", port)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
