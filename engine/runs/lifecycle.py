"""Start, resume and remove runs: the engine API the CLI and the TUI share."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.config import RunConfig
from engine.data import DataSpec, Report, scan
from engine.runs.process import launch, refresh
from engine.runs.status import ACTIVE, RESUMABLE
from engine.runs.store import Run, RunStore


class RunStateError(Exception):
    """The action doesn't fit the run's state (resume a ready run, remove a training one)."""


def validate_data(config: RunConfig) -> Report:
    """The same report as ``inspect``; raises ``DataError`` so no run starts on bad data."""
    spec = DataSpec(Path(config.data.path), format=config.data.format, separator=config.data.separator)
    return scan(
        spec,
        max_seq_len=config.train.seq_len,
        eval_fraction=config.data.eval_fraction,
        seed=config.train.seed,
    )


def start_run(config: RunConfig, store: RunStore | None = None) -> Run:
    """Create the run folder with the resolved config and start its detached process."""
    store = store or RunStore()
    data = replace(config.data, path=str(Path(config.data.path).expanduser().resolve()))
    run = store.create(replace(config, data=data))
    launch(run)
    return run


def resume_run(run: Run) -> Run:
    """Start a failed or cancelled run again, from its last checkpoint if it has one."""
    status = refresh(run)
    if status.state not in RESUMABLE:
        raise RunStateError(f"run {run.id} is {status.state}; only failed or cancelled runs can be resumed")
    run.write_status(status.moved("queued", reason=None, pid=None))
    checkpoint = run.last_checkpoint()
    run.event("status", state="queued", resumed_from=checkpoint.name if checkpoint else None)
    launch(run, resume=True)
    return run


def remove_run(run: Run, store: RunStore | None = None) -> None:
    """Delete a run folder; a queued or training run must be cancelled first."""
    status = refresh(run)
    if status.state in ACTIVE:
        raise RunStateError(f"run {run.id} is {status.state}; cancel it first (`finetui cancel {run.id}`)")
    (store or RunStore(run.dir.parent)).remove(run)
