"""Run folders at fixed ids and times, written with the engine API, and the pilot steps that find them on screen.

The runs list and run page tests (tests/test_tui_run*.py) and their snapshots
share these: every run is created around 2026-01-01 09:00 UTC, so the
times on screen never vary.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Static

from engine.config import DataConfig, RunConfig, TrainConfig
from engine.files import write_json_atomic
from engine.runs import Run, RunStore, Status
from engine.runs.events import CheckpointEvent, EvalEvent, EvalFigures, LogEvent, StatusEvent, StepEvent, TrainFigures
from engine.runs.events import Scorecard as RunScorecard
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.run import RunLog, RunScreen
from tui.screens.runs import RunsScreen, RunTable

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "sample_data" / "haiku.txt"
SIZE = (80, 24)
#: 2026-01-01 09:00 UTC: every run is created around then, so times on screen never vary.
T0 = 1_767_258_000.0



def loss_at(step: int) -> float:
    """A plausible, deterministic train loss curve: fast drop, then a slow one, with a little noise."""
    return round(0.9 + 1.8 * math.exp(-step / 12) + 0.06 * math.sin(step * 1.7), 4)


def step_event(step: int, max_steps: int, start: float) -> StepEvent:
    """A ``step`` event as ``EventsCallback.on_log`` writes it, two seconds a step."""
    elapsed = 2.0 * step
    return StepEvent(
        time=start + elapsed,
        step=step,
        max_steps=max_steps,
        epoch=step / 20,
        loss=loss_at(step),
        lr=2e-4 * (1 - step / max_steps),
        grad_norm=0.8,
        tokens_per_s=1024.0,
        tokens_seen=2048 * step,
        progress=step / max_steps,
        elapsed_s=elapsed,
        eta_s=2.0 * (max_steps - step),
    )


BASELINE = EvalFigures(loss=2.413, accuracy=0.312, tokens=1234)
CUSTOM = EvalFigures(loss=1.021, accuracy=0.635, tokens=1234)
METRICS = RunScorecard(
    baseline=BASELINE,
    custom=CUSTOM,
    train=TrainFigures(
        loss_curve=tuple((s, loss_at(s)) for s in range(1, 61)),
        steps=60,
        tokens=122880,
        wall_time_s=150.0,
        train_time_s=120.0,
        tokens_per_s=1024.0,
        peak_memory_bytes=412 * 2**20,
        device="cpu",
        train_examples=13,
        eval_examples=1,
    ),
)


def write_run(
    run_id: str,
    state: str,
    *,
    name: str = "haiku",
    steps: int = 0,
    max_steps: int = 60,
    created: float = T0,
    reason: str | None = None,
    data: Path = DATA,
    pid: int | None = None,
) -> Run:
    """A run folder named ``run_id`` in ``state``, its files as the training process leaves them.

    ``RunStore.create`` writes the config and the queued status; the folder
    is then renamed to a fixed id, and the status and events are rewritten
    with fixed times. Active runs get a fresh ``updated_at`` and no pid, so
    ``refresh`` gives them their start-up grace instead of calling them dead.
    """
    store = RunStore()
    config = RunConfig(name=name, data=DataConfig(path=str(data), separator="--SEPARATOR--"), train=TrainConfig(max_steps=max_steps))
    created_run = store.create(config)
    run = Run(created_run.dir.rename(store.root / run_id))
    run.events_path.unlink()
    started = created + 5 if state != "queued" else None
    ended = None if state in ("queued", "training") else (started or created) + 2.0 * steps + 30
    run.write_status(
        Status(
            state=state,
            created_at=created,
            started_at=started,
            ended_at=ended,
            updated_at=time.time() if ended is None else ended,
            pid=pid,
            reason=reason,
        )
    )
    run.append(StatusEvent(time=created, state="queued"))
    if started is not None:
        run.append(StatusEvent(time=started, state="training"))
        run.append(LogEvent(time=started, message="LoRA r=16: 294,912 trainable of 6,194,432 parameters"))
        run.append(EvalEvent(time=started + 1, which="baseline", figures=BASELINE))
        run.append(LogEvent(time=started + 2, message=f"training: {max_steps} steps, from step 0"))
        for step in range(1, steps + 1):
            run.append(step_event(step, max_steps, started + 2))
            if step % 20 == 0:
                run.append(CheckpointEvent(time=started + 2 + 2 * step, step=step, path=f"checkpoints/checkpoint-{step}"))
    if state == "ready":
        assert ended is not None
        run.append(EvalEvent(time=ended - 5, which="custom", figures=CUSTOM))
        write_json_atomic(run.metrics_path, METRICS.to_json())
    if state in ("ready", "failed", "cancelled"):
        run.append(StatusEvent(time=ended, state=state, reason=reason))
    return run


async def runs_listed(pilot: Pilot, count: int) -> RunsScreen:
    """Switch to the runs mode (F3) and wait until the table holds ``count`` runs."""
    await pilot.press("f3")
    await until(pilot, lambda: isinstance(pilot.app.screen, RunsScreen))
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    table = screen.query_one(RunTable)
    await until(pilot, lambda: len(table.shown) == count and table.row_count == count)
    return screen


async def run_page(pilot: Pilot, run_id: str, events: int | None = None) -> RunScreen:
    """Open ``run_id`` as the app does after a launch, and wait until it has read ``events`` events (or any)."""
    app = pilot.app
    assert isinstance(app, FinetuiApp)
    app.open_run(run_id)
    await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.state is not None)
    screen = app.screen
    assert isinstance(screen, RunScreen)
    if events is not None:
        await until(pilot, lambda: len(log_lines(screen)) == events)
    return screen


def log_lines(screen: RunScreen) -> list[str]:
    return list(screen.query_one(RunLog).lines)


def events_in(run: Run) -> int:
    return sum(1 for _ in run.events())


def text_of(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)  # type: ignore[attr-defined]
