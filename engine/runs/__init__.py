"""Training runs on disk: one folder per run, its files the source of truth.

A run folder holds ``config.json`` (the resolved config), ``status.json``
(state, timestamps, process id, failure reason), ``events.jsonl`` (an
append-only log of log lines, step metrics and eval results, one typed
record of ``engine.runs.events`` a line),
``checkpoints/``, ``adapter/`` (the final PEFT adapter), ``metrics.json``
(the scorecard) and ``process.log`` (the training process's own output).
The CLI and the TUI both read runs through ``RunStore``.
"""

from engine.runs.status import STATES, State, Status
from engine.runs.store import Run, RunNotFound, RunStore

__all__ = ["STATES", "Run", "RunNotFound", "RunStore", "State", "Status"]
