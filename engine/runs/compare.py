"""Runs side by side: their scorecards, the settings in which they differ, their curves.

``finetui compare`` and the TUI's compare view both read runs through
``compared``; what differs is computed once here, from each run's
``config.json``, so the two views can't disagree on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.runs.events import DURING, EvalEvent, Scorecard, StepEvent
from engine.runs.store import BrokenRun, Run


@dataclass(frozen=True)
class ComparedRun:
    """One run as compared: its id, name, state, flat settings, scorecard and curves (empty where not there)."""

    id: str
    name: str
    state: str
    settings: dict[str, Any]
    """``section.field`` to value (``train.lr``: 0.003); empty when the config can't be read."""
    metrics: Scorecard | None
    train_curve: tuple[tuple[int, float], ...]
    eval_curve: tuple[tuple[int, float], ...]
    problem: str | None = None
    """Why part of the run could not be read."""


def flat_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``{"train": {"lr": 1e-3}}`` as ``{"train.lr": 1e-3}``; the run's name is not a setting."""
    out: dict[str, Any] = {}
    for section, values in config.items():
        if isinstance(values, dict):
            out.update({f"{section}.{key}": value for key, value in values.items()})
    return out


def compared(run: Run, state: str) -> ComparedRun:
    """Read what a comparison shows of ``run`` (``state`` as the caller refreshed it); a damaged file is named, not raised."""
    problems = []
    try:
        config = run.config()
        name, settings = config.name, flat_settings(config.to_dict())
    except BrokenRun as error:
        name, settings = run.id, {}
        problems.append(str(error))
    try:
        metrics = run.metrics()
    except BrokenRun as error:
        metrics = None
        problems.append(str(error))
    train: dict[int, float] = {}
    evals: dict[int, float] = {}
    for _, event in run.events():
        if isinstance(event, StepEvent):
            train[event.step] = event.loss
        elif isinstance(event, EvalEvent) and event.which == DURING and event.step is not None and event.figures.loss is not None:
            evals[event.step] = event.figures.loss
    return ComparedRun(run.id, name, state, settings, metrics, tuple(sorted(train.items())), tuple(sorted(evals.items())), "; ".join(problems) or None)


def differing(runs: list[ComparedRun]) -> list[str]:
    """The settings whose values are not the same in every run (the data file included), in config order."""
    keys: list[str] = []
    for run in runs:
        keys.extend(key for key in run.settings if key not in keys)
    return [key for key in keys if len({repr(run.settings.get(key)) for run in runs}) > 1]


def figure_rows(runs: list[ComparedRun]) -> list[tuple[str, list[str]]]:
    """The scorecard rows, worded, one cell per run (``-`` where a run has no such figure)."""

    def cells(get: Any) -> list[str]:
        out = []
        for run in runs:
            try:
                value = get(run.metrics) if run.metrics is not None else None
            except (TypeError, AttributeError):
                value = None
            out.append("-" if value is None else value)
        return out

    def pct(value: float | None) -> str | None:
        return f"{100 * value:.1f}%" if value is not None else None

    def loss(value: float | None) -> str | None:
        return f"{value:.4f}" if value is not None else None

    def pair(baseline: str | None, custom: str | None) -> str | None:
        return f"{baseline} → {custom}" if baseline is not None and custom is not None else None

    rows = [
        ("state", [run.state for run in runs]),
        ("baseline loss", cells(lambda m: loss(m.baseline.loss))),
        ("custom loss", cells(lambda m: loss(m.custom.loss))),
        ("loss change", cells(lambda m: f"{m.loss_change:+.4f}" if m.loss_change is not None else None)),
        ("baseline acc", cells(lambda m: pct(m.baseline.accuracy))),
        ("custom acc", cells(lambda m: pct(m.custom.accuracy))),
        ("steps", cells(lambda m: str(m.train.steps) if m.train.steps is not None else None)),
        ("kept step", cells(lambda m: str(m.train.kept_step) if m.train.kept_step is not None else None)),
        ("exact b→c", cells(lambda m: pair(pct(m.samples.baseline_exact), pct(m.samples.custom_exact)))),
        ("contains b→c", cells(lambda m: pair(pct(m.samples.baseline_contains), pct(m.samples.custom_contains)))),
        ("worse samples", cells(lambda m: f"{m.samples.worse} of {m.samples.count}")),
        ("stopped early", cells(lambda m: f"step {m.train.steps}" if m.train.stop_reason else None)),
    ]
    return [(label, values) for label, values in rows if label == "state" or any(v != "-" for v in values)]
