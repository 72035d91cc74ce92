"""Keep one command running: `python -m ledgerflow.supervise -- celery -A ledgerflow worker ...`.

Why: kombu's Redis transport kills a Celery worker when Redis restarts while the worker holds an
unacknowledged task (`Unrecoverable error: AttributeError("'NoneType' object has no attribute
'hostname'")` in `restore_unacked`) and the worker exits. honcho (`make run`) does not restart
a process that exits: it stops all the others. This loop restarts the command whenever it exits
without being asked to, with a backoff (1 s doubling up to 30 s, reset once it ran 60 s), so
deliveries resume when the broker is back (tests/faults/test_redis_faults.py). docker-compose
runs the same wrapper; its `restart: unless-stopped` would also restart the container.

SIGTERM/SIGINT/SIGQUIT are passed on to the command (Celery's warm/cold shutdown) and end the
loop: the wrapper then exits with the command's status. No Django here: it only runs a process.
"""

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0  # a run this long resets the backoff
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


def _log(level: str, message: str, **fields) -> None:
    # The same shape as the JSON log lines of web and worker (LOGGING in settings).
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": "ledgerflow.supervise",
        "message": message,
        **fields,
    }
    print(json.dumps(line), file=sys.stderr, flush=True)


def supervise(argv: list[str]) -> int:
    stopping: list[int] = []
    child: subprocess.Popen | None = None

    def forward(signum, frame) -> None:
        stopping.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)

    backoff = BACKOFF_FIRST
    while True:
        started = time.monotonic()
        child = subprocess.Popen(argv)  # noqa: S603 - our own command line  # nosec B603
        if stopping:  # the signal came while it was starting: pass it on now
            child.send_signal(stopping[-1])
        status = child.wait()
        if stopping:
            return status
        ran = time.monotonic() - started
        if ran >= HEALTHY_AFTER:
            backoff = BACKOFF_FIRST
        _log("ERROR", "process exited; restarting", argv=argv, status=status, restart_in=backoff)
        deadline = time.monotonic() + backoff
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return status
        backoff = min(BACKOFF_MAX, backoff * 2)


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: python -m ledgerflow.supervise -- COMMAND [ARG...]")
    sys.exit(supervise(argv))


if __name__ == "__main__":
    main()
