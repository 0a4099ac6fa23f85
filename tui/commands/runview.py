"""How runs read on the command line: following a log, the tail of a failed run's output, samples, errors.

The wording of events, progress and the scorecard is in ``tui.format``,
shared with the TUI. What the run commands print goes through ``say`` or
``error``, which escape it (``tui.format.shown``): a run's name, its data
path, a failure reason or the process's output may hold terminal escapes.
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
from tui.format import format_event, shown

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


#: How much of the end of a process log ``tail`` reads.
WINDOW = 16384
#: Lines that join chained tracebacks.
_CHAINS = ("During handling of the above exception", "The above exception was the direct cause")


def tail(path: Any, lines: int = 10) -> list[str]:
    """The last lines of a text file, Python tracebacks left out, for showing why a run failed.

    The training process prints a traceback when it fails (its log is for
    debugging), but no traceback is shown to a user: the run's status
    already says the error in one line, and the file is there to read.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            start = max(0, fh.tell() - WINDOW)
            fh.seek(start)
            text = fh.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return []
    inside = False
    if start > 0:  # the window begins mid-line, perhaps inside a traceback's frame: skip to the next unindented line
        text = text[1:]
        while text and text[0].startswith((" ", "\t")):
            text, inside = text[1:], True
    return without_tracebacks(text, inside)[-lines:]


def without_tracebacks(lines: list[str], inside: bool = False) -> list[str]:
    """``lines`` without Python tracebacks: each from its "Traceback" line to its exception line, chains included.

    ``inside``: the lines begin inside a traceback, after its frames.
    """
    out: list[str] = []
    state = "traceback" if inside else "output"
    for line in lines:
        if line.startswith(("Traceback (most recent call last):", '  File "')):  # a frame: the tail may begin mid-traceback
            state = "traceback"
        elif state == "traceback":
            if line.strip() and not line.startswith((" ", "\t")):
                state = "after"  # the exception line: the run's status says it already
        elif state == "after" and (not line.strip() or line.startswith(_CHAINS)):
            continue  # between chained tracebacks
        else:
            state = "output"
            out.append(line)
    return out


def say(text: str = "") -> None:
    """Print ``text``, escaped: it may quote a user, a file or a model."""
    print(shown(text))


def error(command: str, message: str) -> int:
    """Say ``message`` as the command's one-line error, escaped (it may quote a name or a chat template); returns exit code 2."""
    print(shown(f"finetui {command}: error: {message}"), file=sys.stderr)
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
