"""What the TUI reads from the run store, as one immutable snapshot: every run's row, and the followed runs' events.

``read_snapshot`` runs in the run watcher's thread worker (``tui.run_watch``),
once per tick. It only reads run files, never writes them (a dead process
reads as failed, a run folder with a bad file as broken) and returns frozen
dataclasses, so no screen blocks its event loop on disk or shares mutable
state with a thread. The files stay the source of truth: a reopened TUI
reads the same history and goes on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from engine.files import last_jsonl
from engine.runs import Run, RunStore, Status
from engine.runs.events import PhaseEvent, RunEvent, Scorecard, event_from_json
from engine.runs.process import refresh
from engine.runs.store import BrokenRun
from tui.format import phase_words, progress_cells, short_model

#: Events read for one run in one go; a longer history arrives over several reads.
EVENTS_PER_READ = 2000
#: Widest model name in the runs table; longer ones keep their end.
MODEL_CHARS = 12


@dataclass(frozen=True)
class RunRow:
    """One run as the lists show it, the cells already worded (the same as ``finetui runs``)."""

    id: str
    state: str
    progress: str
    eta: str
    model: str
    created: str
    name: str | None = None
    """The run's name; None when its ``config.json`` can't be read."""
    model_name: str | None = None
    """The base model as configured (``model`` is its short form)."""
    after: str | None = None
    """For a queued run, the run it starts after (``queue_order``); None when it starts next, or is not queued."""
    phase: str = ""
    """What a queued or training run is doing now, in words (``tui.format.phase_words``); empty for the others."""


@dataclass(frozen=True)
class RunDetail:
    """A followed run: its status, where it came from, every event read so far, and its scorecard."""

    run_id: str
    status: Status | None
    name: str
    model: str
    data: str
    offset: int = 0
    """Bytes of ``events.jsonl`` read so far: the next read starts there."""
    events: tuple[RunEvent, ...] = ()
    """Every event from the start of the log, in order; readers show the ones they have not shown yet."""
    metrics: Scorecard | None = None
    more: bool = False
    """True when the last read stopped at ``EVENTS_PER_READ``: read again at once."""
    gone: bool = False
    """The run folder was deleted (``finetui rm`` elsewhere, or ``d`` on the list)."""
    error: str | None = None
    """Why the run's files could not be read."""


@dataclass(frozen=True)
class RunsSnapshot:
    """The run store as one read saw it: every run, newest first, and the details of the followed runs."""

    rows: tuple[RunRow, ...] = ()
    error: str | None = None
    """Why the runs folder could not be listed (the rows are then empty)."""
    details: Mapping[str, RunDetail] = field(default_factory=lambda: MappingProxyType({}))
    read_at: float = 0.0
    """``time.monotonic()`` when the read began: whatever was on disk before then is in it."""

    @property
    def states(self) -> dict[str, str]:
        return {row.id: row.state for row in self.rows}

    @property
    def more(self) -> bool:
        return any(detail.more for detail in self.details.values())


def run_by_id(run_id: str) -> Run:
    """The run of that folder name under this machine's runs (whether or not it still exists)."""
    return Run(RunStore().root / run_id)


def queue_order(runs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """For each queued run of ``runs`` (``(id, state)``, oldest first), the run it starts after.

    Queued runs take the machine's training lock oldest first
    (``engine.runs.process.wait_for_turn``): a queued run starts after the
    queued run just older than it, and the first in line after the run that
    is training. One with none of either starts next, and has no entry.
    """
    training = next((run_id for run_id, state in runs if state == "training"), None)
    after, ahead = {}, training
    for run_id, state in runs:
        if state == "queued":
            if ahead is not None:
                after[run_id] = ahead
            ahead = run_id
    return after


def last_phase(run: Run) -> PhaseEvent | None:
    """The run's latest phase event, read from the tail of its log; None when the tail has none (or can't be read)."""
    found = last_jsonl(run.events_path, {"phase"})
    event = event_from_json(found) if found is not None else None
    return event if isinstance(event, PhaseEvent) else None


def read_rows(store: RunStore) -> tuple[RunRow, ...]:
    """Every run, newest first, with dead processes and broken folders spotted, and what the active ones are doing."""
    rows = []
    runs = []
    for run in store.list():
        try:
            runs.append((run, refresh(run)))
        except FileNotFoundError:
            continue  # deleted while we read
    after = queue_order([(run.id, status.state) for run, status in runs])
    for run, status in reversed(runs):
        try:
            step = run.last_step() if status.state not in ("ready", "broken") else None
        except OSError:
            step = None
        progress, eta = progress_cells(status.state, step)
        phase = phase_words(status.state, last_phase(run) if status.state == "training" else None, after.get(run.id))
        try:
            config = run.config()
            name, model_name = config.name, config.model.name
        except (OSError, ValueError):  # a bad config.json must not hide the other runs
            name = model_name = None
        created = datetime.fromtimestamp(status.created_at).strftime("%m-%d %H:%M")
        model = short_model(model_name, MODEL_CHARS) if model_name is not None else "?"
        rows.append(RunRow(run.id, status.state, progress, eta, model, created, name, model_name, after.get(run.id), phase))
    return tuple(rows)


def read_detail(run: Run, before: RunDetail | None) -> RunDetail:
    """``before`` with the events written since, then the status, config and (once ready) the scorecard.

    Events are read before the status, so a run seen as ended has its last
    events in this read or the next; metrics are written before the status
    says ready, so a ready status always finds them.
    """
    if not run.dir.is_dir():
        return RunDetail(run.id, None, run.id, "?", "?", gone=True)
    start = offset = before.offset if before else 0
    events: list[RunEvent] = []
    for offset, event in run.events(start):  # noqa: B007  (the last offset is where the next read starts)
        events.append(event)
        if len(events) >= EVENTS_PER_READ:
            break
    try:
        status = refresh(run)
    except FileNotFoundError:
        return RunDetail(run.id, None, run.id, "?", "?", gone=True)
    try:
        config = run.config()
        name, model, data = config.name, config.model.name, config.data.path
    except BrokenRun:  # the status says what is wrong; the page still shows the log
        name, model, data = run.id, "?", "?"
    metrics = before.metrics if before else None
    if metrics is None and status.state == "ready":
        try:
            metrics = run.metrics()
        except BrokenRun:
            metrics = None
    return RunDetail(
        run_id=run.id,
        status=status,
        name=name,
        model=model,
        data=data,
        offset=offset,
        events=(before.events if before else ()) + tuple(events),
        metrics=metrics,
        more=len(events) >= EVENTS_PER_READ,
    )


def read_snapshot(store: RunStore, followed: Mapping[str, RunDetail | None]) -> RunsSnapshot:
    """One look at the store: every run's row, and each followed run's details since its last read."""
    read_at = time.monotonic()
    try:
        rows, error = read_rows(store), None
    except (OSError, ValueError) as exc:
        rows, error = (), f"Can't read the runs: {exc}"
    details = {}
    for run_id, before in followed.items():
        run = Run(store.root / run_id)
        try:
            details[run_id] = read_detail(run, before)
        except (OSError, ValueError) as exc:
            details[run_id] = RunDetail(run_id, None, run_id, "?", "?", error=f"{type(exc).__name__}: {exc}")
    return RunsSnapshot(rows, error, MappingProxyType(details), read_at)
