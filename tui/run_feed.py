"""What the runs dashboard reads from disk, as plain data: run rows and new events.

These functions run in the screens' thread workers. They only read run
files, never write them (a dead process reads as failed, a run folder with
a bad file as broken) and return frozen dataclasses, so a screen never blocks its event
loop on disk and never shares mutable state with a thread. The files stay
the source of truth: a reopened TUI reads the same history and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

from engine.runs import Run, RunStore, Status
from engine.runs.process import refresh
from engine.runs.store import BrokenRun
from tui.commands.runview import progress_cells

#: Events read in one go; a longer history arrives over several reads.
EVENTS_PER_READ = 2000
#: Widest model name in the runs table; longer ones keep their end.
MODEL_CHARS = 12


@dataclass(frozen=True)
class RunRow:
    """One line of the runs table, already formatted (the same cells as ``finetui runs``)."""

    id: str
    state: str
    progress: str
    eta: str
    model: str
    created: str


@dataclass(frozen=True)
class RunUpdate:
    """What changed in one run since byte ``offset`` of its event log was last read."""

    run_id: str
    status: Status
    name: str
    model: str
    data: str
    offset: int
    """Where the next read starts: pass it back to ``read_update``."""
    events: tuple[dict[str, Any], ...]
    metrics: dict[str, Any] | None
    more: bool
    """True when the read stopped at ``EVENTS_PER_READ``: read again at once."""


class RunGone(LookupError):
    """The run folder was deleted (``finetui rm`` elsewhere, or ``d`` on the list)."""


def run_by_id(run_id: str) -> Run:
    """The run of that folder name under this machine's runs (whether or not it still exists)."""
    return Run(RunStore().root / run_id)


def short_model(name: str) -> str:
    """A model as the table shows it: a folder or hub id by its last part, at most ``MODEL_CHARS``."""
    short = PurePath(name).name or name
    return short if len(short) <= MODEL_CHARS else "…" + short[-(MODEL_CHARS - 1) :]


def read_rows(store: RunStore) -> list[RunRow]:
    """Every run, newest first, with dead processes and broken folders spotted."""
    rows = []
    for run in reversed(store.list()):
        try:
            status = refresh(run)
        except FileNotFoundError:
            continue  # deleted while we read
        progress, eta = progress_cells(run, status.state)
        try:
            model = short_model(run.config().model.name)
        except (OSError, ValueError):  # a bad config.json must not hide the other runs
            model = "?"
        created = datetime.fromtimestamp(status.created_at).strftime("%m-%d %H:%M")
        rows.append(RunRow(run.id, status.state, progress, eta, model, created))
    return rows


def read_update(run: Run, offset: int, want_metrics: bool) -> RunUpdate:
    """The events after ``offset`` (at most ``EVENTS_PER_READ``), then the status and config.

    Events are read before the status, so a run seen as ended has its last
    events in this read or the next; metrics are written before the status
    says ready, so a ready status always finds them. Raises ``RunGone`` if
    the folder has been deleted.
    """
    if not run.dir.is_dir():
        raise RunGone(f"run {run.id} no longer exists")
    events: list[dict[str, Any]] = []
    end = offset
    for end, event in run.events(offset):
        events.append(event)
        if len(events) >= EVENTS_PER_READ:
            break
    try:
        status = refresh(run)
    except FileNotFoundError:
        raise RunGone(f"run {run.id} no longer exists") from None
    try:
        config = run.config()
        name, model, data = config.name, config.model.name, config.data.path
    except BrokenRun:  # the status says what is wrong; the page still shows the log
        name, model, data = run.id, "?", "?"
    try:
        metrics = run.metrics() if want_metrics and status.state == "ready" else None
    except BrokenRun:
        metrics = None
    return RunUpdate(
        run_id=run.id,
        status=status,
        name=name,
        model=model,
        data=data,
        offset=end,
        events=tuple(events),
        metrics=metrics,
        more=len(events) >= EVENTS_PER_READ,
    )
