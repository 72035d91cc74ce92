"""Progress and results of long management commands, for a person or for a machine.

Progress always goes to stderr, so stdout carries only the command's result:

- on a terminal, a progress bar (click's, installed with Celery);
- otherwise (cron, CI, `docker logs`), a timestamped line every `--progress-interval` seconds
  and one at the end;
- with `--json`, progress as JSON lines on stderr and the result as one JSON document on
  stdout at the end (`… --json | jq .`).

`--progress {auto,bar,log,json,none}` overrides the choice (`bar` draws the bar even when
stderr is not a terminal); `-v 0` silences progress in `auto` mode.
"""

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO, cast

import click
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

MODES = ("auto", "bar", "log", "json", "none")
DEFAULT_INTERVAL = 10.0  # seconds between log lines: frequent enough to show life, not noise

# What services accept to report how far they got: (done, total or None if unchanged).
ProgressCallback = Callable[[int, int | None], None]


class _Terminal:
    """A stream that says it is a terminal: `--progress bar` on a pipe still gets the bar."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return True


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a file
        return False


def resolve_mode(requested: str, *, json_output: bool, stream: Any, verbosity: int = 1) -> str:
    if requested != "auto":
        return requested
    if json_output:
        return "json"
    if verbosity == 0:
        return "none"
    return "bar" if _isatty(stream) else "log"


class Progress:
    """How far one command got: `update(done, total)` as often as convenient.

    Bar mode redraws on every update; log and JSON modes write at most one line per
    `interval` seconds, plus the final one when the block ends.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        command: str,
        label: str,
        unit: str,
        total: int | None = None,
        mode: str = "log",
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        if mode not in MODES or mode == "auto":
            raise ValueError(f"unknown progress mode {mode!r}")
        self.stream, self.command, self.label, self.unit = stream, command, label, unit
        self.total, self.mode, self.interval = total, mode, interval
        self.done = 0
        self.step = ""  # what is happening now (load_history's phases)
        self._started = self._last_line = time.monotonic()
        self._reported: tuple | None = None
        self._bar: ProgressBar[str] | None = None

    # --- the block ---------------------------------------------------------------------------

    def __enter__(self) -> "Progress":
        self._started = time.monotonic()
        if self.mode == "bar":
            self._bar = click.progressbar(
                length=self.total or 0,
                label=f"{self.command}: {self.label}",
                file=cast(TextIO, _Terminal(self.stream)),  # click writes, flushes, asks isatty
                show_pos=True,
                show_eta=True,
                item_show_func=lambda step: step or None,
                width=30,
            )
            self._bar.__enter__()
        else:
            self._report(force=True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
            self.stream.flush()
        elif exc_type is None:
            self._report(force=True, final=True)

    def callback(self) -> ProgressCallback:
        return self.update

    def update(self, done: int, total: int | None = None, *, step: str | None = None) -> None:
        if total is not None:
            self.total = total
            if self._bar is not None:
                self._bar.length = total
        if step is not None:
            self.step = step
        advance, self.done = done - self.done, done
        if self._bar is not None:
            self._bar.update(max(advance, 0), self.step)
        else:
            self._report()

    # --- lines ---------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _report(self, *, force: bool = False, final: bool = False) -> None:
        if self.mode == "none":
            return
        state = (self.done, self.total, self.step, final)
        now = time.monotonic()
        if state == self._reported or not (force or now - self._last_line >= self.interval):
            return
        self._reported, self._last_line = state, now
        if self.mode == "json":
            line = json.dumps(
                {
                    "command": self.command,
                    "event": "done" if final else "progress",
                    "label": self.label,
                    "done": self.done,
                    "total": self.total,
                    "unit": self.unit,
                    "step": self.step or None,
                    "elapsed_seconds": round(self.elapsed, 3),
                }
            )
        else:
            line = f"{_now()} {self.command}: {self._text(final)}"
        self.stream.write(line + "\n")
        self.stream.flush()

    def _text(self, final: bool) -> str:
        position = f"{self.done:,}"
        if self.total is not None:
            position += f"/{self.total:,}"
        position += f" {self.unit}"
        if self.total:
            position += f" ({min(self.done / self.total, 1):.0%})"
        parts = [f"{self.label} {position}"]
        if self.step:
            parts.append(self.step)
        parts.append(f"{self.elapsed:.1f} s")
        if not final and self.total and 0 < self.done < self.total:
            left = self.elapsed / self.done * (self.total - self.done)
            parts.append(f"~{left:.0f} s left")
        if final:
            parts.append("done")
        return ", ".join(parts)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class JsonCommand(BaseCommand):
    """A command whose result is a sentence for people or, with `--json`, one JSON document."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help="print the result as one JSON document on stdout",
        )

    def execute(self, *args: Any, **options: Any) -> str | None:
        self.options = options
        return super().execute(*args, **options)

    def result(self, data: dict[str, Any], text: str) -> None:
        """The command's outcome: `data` as JSON with --json, else the human sentence."""
        if self.options.get("json"):
            self.stdout.write(json.dumps(data, default=str))
        else:
            self.stdout.write(text)


def iso_instant(text: str, option: str) -> datetime:
    """An instant given on the command line: an ISO 8601 date (its midnight) or date-time,
    UTC unless it says. CommandError naming `option` otherwise."""
    value = parse_datetime(text)
    if value is None and (day := parse_date(text)) is not None:
        value = datetime.combine(day, datetime.min.time())
    if value is None:
        raise CommandError(f"{option}: not an ISO 8601 date or date-time: {text!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ProgressCommand(JsonCommand):
    """A long command: progress on stderr (`--progress`, `--progress-interval`) and `--json`
    (then progress is JSON lines on stderr too)."""

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--progress",
            choices=MODES,
            default="auto",
            help="progress on stderr: a bar on a terminal, log lines otherwise (default auto)",
        )
        parser.add_argument(
            "--progress-interval",
            type=float,
            default=DEFAULT_INTERVAL,
            metavar="SECONDS",
            help="seconds between progress log lines (default %(default)s)",
        )

    @property
    def command_name(self) -> str:
        return self.__module__.rpartition(".")[2]

    def progress(self, label: str, *, unit: str, total: int | None = None) -> Progress:
        # The raw stream: OutputWrapper appends a newline to writes.
        stream = cast(TextIO, self.stderr._out)
        mode = resolve_mode(
            self.options.get("progress", "auto"),
            json_output=self.options.get("json", False),
            stream=stream,
            verbosity=self.options.get("verbosity", 1),
        )
        return Progress(
            stream,
            command=self.command_name,
            label=label,
            unit=unit,
            total=total,
            mode=mode,
            interval=self.options.get("progress_interval", DEFAULT_INTERVAL),
        )
