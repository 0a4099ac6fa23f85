"""How runs read on the command line: following a log, the tail of a failed run's output, samples, errors.

The wording of events, progress and the scorecard is in ``tui.format``,
shared with the TUI.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from engine.runs import Run
from engine.runs.events import Scorecard
from engine.runs.process import refresh
from engine.runs.status import ACTIVE
from engine.train.samples import SamplesUnreadable, read_samples
from tui.format import format_event

POLL_S = 0.5


def os_problem(exc: BaseException) -> str:
    """An error as one line: our own messages as they are, a raw ``OSError`` as reason and file."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return str(exc)


def follow(run: Run, start: int = 0) -> str:
    """Print the run's events from byte ``start`` on, following until the run ends; returns the final state."""
    offset = start
    while True:
        offset = _print_events(run, offset)
        try:
            state = refresh(run).state
        except FileNotFoundError:
            return "removed"
        if state not in ACTIVE:
            _print_events(run, offset)
            return state
        time.sleep(POLL_S)


def _print_events(run: Run, start: int) -> int:
    """Print the whole event lines from byte ``start`` on; returns where the next read starts."""
    offset = start
    for offset, event in run.events(start):  # noqa: B007  (the last offset is where the next read starts)
        print(format_event(event), flush=True)
    return offset


def tail(path: Any, lines: int = 10) -> list[str]:
    """The last lines of a text file, for showing why a run failed."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 16384))
            return fh.read().decode("utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def error(command: str, message: str) -> int:
    print(f"finetui {command}: error: {message}", file=sys.stderr)
    return 2


def print_samples(run: Run, metrics: Scorecard | None) -> int:
    """``finetui show RUN --samples``: the run's samples, worse first, under the match rates."""
    from tui.widgets.samples_text import samples_text

    try:
        samples = read_samples(run)
    except (SamplesUnreadable, OSError) as exc:
        return error("show", os_problem(exc))
    if samples is None:
        return error("show", f"run {run.id} has no samples: they are written when a run finishes (runs from before samples have none)")
    print(samples_text(samples, metrics.samples if metrics else None).plain.rstrip("\n"))
    return 0
