"""Process plumbing for bench/run.py: servers it starts and stops by PID, and the load tools.

Nothing here imports Django: the orchestrator decides what runs where, this module runs it.
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LUA = HERE / "lua"
SQL = HERE / "sql"


class BenchError(RuntimeError):
    """A bench step failed: printed without a traceback, exit status 2."""


def require_tools() -> None:
    """The bench installs nothing: it only checks that its load generators exist."""
    missing = [tool for tool in ("wrk", "pgbench", "psql") if shutil.which(tool) is None]
    if missing:
        hints = {
            "wrk": "apt-get install -y wrk",
            "pgbench": "apt-get install -y postgresql-contrib (postgresql-15 ships pgbench)",
            "psql": "apt-get install -y postgresql-client",
        }
        lines = "\n".join(f"  {tool}: {hints[tool]}" for tool in missing)
        raise BenchError(f"missing tools; install them with:\n{lines}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- processes the bench starts -------------------------------------------------------------


@dataclass
class Started:
    name: str
    process: subprocess.Popen
    log: Path


@dataclass
class Processes:
    """Every server the bench starts, each in its own session so a terminal Ctrl-C reaches
    the bench only; `stop_all` ends them by PID (SIGTERM, then SIGKILL), newest first."""

    log_dir: Path
    started: list[Started] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Started:
        log = self.log_dir / f"{name}.log"
        handle = open(log, "ab")
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        entry = Started(name, process, log)
        self.started.append(entry)
        return entry

    def stop(self, entry: Started, timeout: float = 15) -> None:
        process = entry.process
        if process.poll() is None:
            try:
                os.kill(process.pid, signal.SIGTERM)
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            except ProcessLookupError:
                pass
        # Its own session: anything it forked and left behind (a pool child) has its PGID.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if entry in self.started:
            self.started.remove(entry)

    def stop_all(self) -> None:
        for entry in reversed(list(self.started)):
            try:
                self.stop(entry)
            except Exception as exc:
                print(f"  could not stop {entry.name} (pid {entry.process.pid}): {exc}")

    def check_alive(self, entry: Started) -> None:
        if entry.process.poll() is not None:
            tail = entry.log.read_text(errors="replace")[-3000:]
            raise BenchError(
                f"{entry.name} exited with {entry.process.returncode}; log {entry.log}:\n{tail}"
            )


def wait_http(url: str, entry: Started, processes: Processes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive(entry)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise BenchError(f"{url} did not answer 200 within {timeout:.0f} s (log {entry.log})")


def wait_log(entry: Started, needle: str, processes: Processes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive(entry)
        if needle in entry.log.read_text(errors="replace"):
            return
        time.sleep(0.25)
    raise BenchError(f"{entry.name} did not log {needle!r} within {timeout:.0f} s ({entry.log})")


def start_gunicorn(
    processes: Processes, env: dict[str, str], *, port: int, workers: int, threads: int
) -> Started:
    argv = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "ledgerflow.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--backlog",
        "2048",
        "--graceful-timeout",
        "5",
        "--timeout",
        "120",
        "--no-control-socket",  # its default path is shared by every gunicorn of the machine
        "--worker-tmp-dir",
        "/dev/shm",  # noqa: S108 - gunicorn's heartbeat files, as its docs advise
    ]
    if threads > 1:
        argv += ["--worker-class", "gthread", "--threads", str(threads)]
    entry = processes.start("gunicorn", argv, env)
    wait_http(f"http://127.0.0.1:{port}/health", entry, processes)
    return entry


def start_celery(processes: Processes, env: dict[str, str], *, concurrency: int) -> Started:
    argv = [
        str(ROOT / ".venv" / "bin" / "celery"),
        "-A",
        "ledgerflow",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "--hostname",
        f"bench-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--purge",
    ]
    # ledgerflow/celery.py's setup_logging hook replaces Celery's logging with settings.LOGGING,
    # whose root level is LOG_LEVEL: --loglevel is ignored, and the bench's WARNING would hide
    # the INFO lines "Connected to ..." and "... ready." that wait_log waits for.
    entry = processes.start("celery", argv, {**env, "LOG_JSON": "false", "LOG_LEVEL": "INFO"})
    wait_log(entry, "ready.", processes)
    return entry


def start_receiver(processes: Processes, port: int) -> Started:
    entry = processes.start(
        "receiver", [sys.executable, str(HERE / "receiver.py"), str(port)], dict(os.environ)
    )
    wait_http(f"http://127.0.0.1:{port}/count", entry, processes)
    return entry


def receiver_count(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/count", timeout=5) as response:
        return int(json.loads(response.read())["received"])


# --- load generators -------------------------------------------------------------------------


def run_wrk(
    url: str,
    script: str,
    args: list[str],
    *,
    duration: float,
    connections: int,
    threads: int = 2,
    timeout_s: int = 30,
) -> dict:
    """wrk with a Lua script of bench/lua; returns the JSON line its done() prints."""
    argv = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(LUA / script),
        url,
        "--",
        *args,
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration + timeout_s + 60, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result = json.loads(line.removeprefix("BENCH_JSON "))
            result["status"] = {int(code): n for code, n in result["status"].items()}
            return result
    raise BenchError(
        f"wrk printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )


def psql(dsn: str, script: Path, variables: dict[str, object]) -> None:
    argv = ["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(script)]
    for name, value in variables.items():
        argv += ["-v", f"{name}={value}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        raise BenchError(f"psql -f {script.name} failed:\n{done.stderr}")


def run_pgbench(
    dsn: str, script: str, *, clients: int, duration: float, accounts: int, log_dir: Path
) -> dict:
    """pgbench with a custom script of bench/sql, per-transaction log for percentiles."""
    prefix = log_dir / f"pgbench-{Path(script).stem}"
    for old in log_dir.glob(f"{prefix.name}*"):
        old.unlink()
    argv = [
        "pgbench",
        "-n",
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(max(1, round(duration))),
        "-D",
        f"accounts={accounts}",
        "-f",
        str(SQL / script),
        "-l",
        f"--log-prefix={prefix}",
        dsn,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120, check=False)
    if done.returncode:
        raise BenchError(f"pgbench {script} failed:\n{done.stdout}\n{done.stderr}")
    tps = failed = None
    for line in done.stdout.splitlines():
        if line.startswith("tps = "):
            tps = float(line.split()[2])
        elif line.startswith("number of failed transactions:"):
            failed = int(line.split(":")[1].split()[0])
    latencies = []
    for path in log_dir.glob(f"{prefix.name}*"):
        for row in path.read_text().splitlines():
            fields = row.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)  # µs -> ms
    if tps is None or not latencies:
        raise BenchError(f"could not read pgbench's output:\n{done.stdout}")
    p50, p99 = percentiles(latencies)
    return {
        "tps": tps,
        "failed": failed or 0,
        "transactions": len(latencies),
        "p50": p50,
        "p99": p99,
    }


def percentiles(values: list[float], points=(50, 99)) -> tuple[float, ...]:
    if not values:
        return tuple(None for _ in points)
    if len(values) == 1:
        return tuple(values[0] for _ in points)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return tuple(cuts[point - 1] for point in points)
