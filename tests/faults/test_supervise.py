"""ledgerflow.supervise: what `make run` (honcho) and compose run worker and beat under."""

import os
import signal
import subprocess
import sys
import time

from tests.faults.conftest import ROOT, wait_until

# Each run appends a line to the file given, then exits 3 or, with "stay", sleeps until TERM.
CHILD = """
import signal, sys, time
with open(sys.argv[1], "a") as f:
    f.write("run\\n")
if sys.argv[2] == "stay":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    time.sleep(60)
sys.exit(3)
"""


def supervise(tmp_path, mode: str) -> tuple[subprocess.Popen, object]:
    runs = tmp_path / "runs"
    argv = [sys.executable, "-m", "ledgerflow.supervise", "--"]
    argv += [sys.executable, "-c", CHILD, str(runs), mode]
    process = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, start_new_session=True)
    return process, runs


def run_count(runs) -> int:
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def test_a_command_that_exits_is_started_again(tmp_path):
    process, runs = supervise(tmp_path, "exit")
    try:
        wait_until(lambda: run_count(runs) >= 2, timeout=30, what="a second run")
        assert process.poll() is None  # the loop itself stays up
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert b'"message": "process exited; restarting"' in process.stderr.read()


def test_sigterm_is_passed_on_and_ends_the_loop(tmp_path):
    process, runs = supervise(tmp_path, "stay")
    try:
        wait_until(lambda: run_count(runs) == 1, timeout=30, what="the first run")
        time.sleep(0.5)  # its SIGTERM handler is installed
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0  # the command's own exit status
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    assert run_count(runs) == 1  # not restarted after a requested stop
