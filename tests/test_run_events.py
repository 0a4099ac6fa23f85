"""Typed run events and the scorecard: what the writer writes reads back as the same object, damaged
lines read as unreadable events, and a run folder written by an older finetui (commit 9aa034c) still
reads and shows correctly in the CLI and the TUI."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from engine.runs import Run, RunStore
from engine.runs.events import (
    SCHEMA,
    CheckpointEvent,
    EvalEvent,
    EvalFigures,
    LogEvent,
    PhaseEvent,
    RunEvent,
    Scorecard,
    StatusEvent,
    StepEvent,
    TrainFigures,
    UnreadableEvent,
    event_from_json,
    event_from_line,
)
from tests.pilot_helpers import until
from tui.cli import main
from tui.format import format_event, progress_cells, short_model

OLD_RUN = Path(__file__).parent / "fixtures" / "runs" / "20261130-165959-oldformat"

EVERY_KIND: list[RunEvent] = [
    LogEvent(time=1.0, message="loading finetui-tiny (4bit)"),
    LogEvent(time=1.5, message="low memory", level="warning"),
    StepEvent(time=2.0, step=3, loss=2.5, max_steps=10, epoch=0.3, lr=1e-4, grad_norm=0.5, tokens_per_s=900.0,
              tokens_seen=3000, progress=0.3, elapsed_s=6.0, eta_s=14.0),
    EvalEvent(time=3.0, which="baseline", figures=EvalFigures(2.4, 0.31, 1234)),
    EvalEvent(time=3.5, which="custom", figures=EvalFigures(None, None, 0)),
    CheckpointEvent(time=4.0, step=3, path="checkpoints/checkpoint-3"),
    StatusEvent(time=5.0, state="failed", reason="out of memory"),
    StatusEvent(time=5.5, state="queued", resumed_from="checkpoint-3", resumed=True),
    StatusEvent(time=5.6, state="queued", resumed_from=None, resumed=True),
    PhaseEvent(time=6.0, phase="baseline"),
]


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_every_event_reads_back_as_written(event: RunEvent) -> None:
    line = (json.dumps(event.to_json()) + "\n").encode()
    assert json.loads(line)["schema"] == SCHEMA
    assert event_from_line(line) == event


def test_run_writes_and_reads_typed_events(tmp_path: Path) -> None:
    run = Run(tmp_path)
    for event in EVERY_KIND:
        run.append(event)
    offsets_and_events = list(run.events())
    assert [e for _, e in offsets_and_events] == EVERY_KIND
    assert offsets_and_events[-1][0] == run.events_path.stat().st_size
    assert run.last_step() == EVERY_KIND[2]
    assert list(run.events(offsets_and_events[3][0])) == offsets_and_events[4:]  # following by offset


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"[1, 2]\n", "not a JSON object"),
        (b"\xff\xfe\n", "not JSON"),
        (b'{"kind": "step"}\n', "a step without its step number and loss"),
        (b'{"kind": "step", "step": 3, "loss": "high"}\n', "a step without its step number and loss"),
        (b'{"kind": "eval", "which": "custom"}\n', "an eval without its token count"),
        (b'{"kind": "eval", "which": "baseline", "tokens": 5, "loss": NaN, "accuracy": 0.5}\n', "an eval of scored tokens without"),
        (b'{"time": "noon"}\n', "unknown kind None"),
        (b'{"kind": "status"}\n', "a status without its state"),
    ],
)
def test_a_damaged_line_reads_as_unreadable_with_the_reason(line: bytes, why: str) -> None:
    event = event_from_line(line)
    assert isinstance(event, UnreadableEvent) and event.why.startswith(why)
    assert format_event(event).endswith(f"(unreadable event: {line.decode(errors='replace').rstrip()})")


def test_an_unknown_kind_with_a_message_still_reads_as_its_message() -> None:
    event = event_from_json({"time": 10.0, "kind": "from-the-future", "message": "hello"})
    assert isinstance(event, UnreadableEvent) and event.time == 10.0
    assert format_event(event).endswith("  hello")


def test_figures_that_are_not_finite_numbers_read_as_missing() -> None:
    event = event_from_json({"kind": "step", "step": 2, "loss": 1.5, "lr": float("nan"), "grad_norm": True, "eta_s": "soon"})
    assert isinstance(event, StepEvent) and event.lr is None and event.grad_norm is None and event.eta_s is None
    assert format_event(event).endswith("step 2/?  loss 1.5000  eta -")


def test_the_scorecard_reads_back_and_derives_its_change() -> None:
    card = Scorecard(EvalFigures(2.0, 0.25, 100), EvalFigures(1.5, 0.5, 100), TrainFigures(loss_curve=((1, 2.0), (2, 1.7)), steps=2))
    raw = json.loads(json.dumps(card.to_json(), allow_nan=False))
    assert raw["schema"] == SCHEMA and raw["change"] == {"loss": -0.5, "accuracy_points": 25.0}
    assert Scorecard.from_json(raw) == card
    with pytest.raises(ValueError, match="not a scorecard"):
        Scorecard.from_json({"baseline": [1]})


def test_short_model_and_progress_cells() -> None:
    assert short_model("/home/me/models/my-llama") == "my-llama"
    assert short_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"  # a hub id as people call it
    assert short_model("Qwen/Qwen2.5-0.5B", 12) == "Qwen2.5-0.5B"  # too wide: the owner goes first
    assert short_model("Qwen/Qwen2.5-0.5B-Instruct", 12) == "…5B-Instruct"  # then its end
    step = StepEvent(step=3, loss=2.0, progress=0.25, eta_s=75.0)
    assert progress_cells("training", step) == ("25%", "1m15s")
    assert progress_cells("cancelled", step) == ("25%", "-")
    assert progress_cells("ready", None) == ("100%", "-")
    assert progress_cells("training", None) == ("-", "-")


# --- a run folder from finetui at commit 9aa034c ------------------------------------------------------


@pytest.fixture
def old_run() -> Run:
    store = RunStore()
    store.root.mkdir(parents=True)
    shutil.copytree(OLD_RUN, store.root / OLD_RUN.name)
    return store.get(OLD_RUN.name)


def test_an_old_run_folder_reads_as_typed_events(old_run: Run) -> None:
    events = [e for _, e in old_run.events()]
    assert not [e for e in events if isinstance(e, UnreadableEvent)]
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("StepEvent") == 4 and kinds.count("EvalEvent") == 2 and kinds.count("CheckpointEvent") == 2
    raw = [json.loads(line) for line in old_run.events_path.read_text().splitlines()]
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [(s.step, s.loss, s.elapsed_s) for s in steps] == [(r["step"], r["loss"], r["elapsed_s"]) for r in raw if r["kind"] == "step"]
    card = old_run.metrics()
    assert card is not None and card.schema == SCHEMA
    metrics = json.loads(old_run.metrics_path.read_text())
    assert card.custom.loss == metrics["custom"]["loss"] and card.train.steps == metrics["train"]["steps"] == 4
    assert card.loss_change == pytest.approx(metrics["change"]["loss"])
    assert [list(point) for point in card.train.loss_curve] == metrics["train"]["loss_curve"]


def test_an_old_run_folder_shows_in_runs_show_and_logs(old_run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs"]) == 0
    listed = capsys.readouterr().out
    assert old_run.id in listed and "ready" in listed and "100%" in listed
    assert main(["show", old_run.id]) == 0
    shown = capsys.readouterr().out
    assert "token accuracy" in shown and "training: 4 steps" in shown and "train loss: 6.1898 at step 1" in shown
    assert main(["logs", old_run.id]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == sum(1 for _ in old_run.events()) and not [line for line in lines if "unreadable" in line]
    assert lines[-1].endswith("status: ready") and any("eval custom: loss 6.2970" in line for line in lines)


async def test_an_old_run_folder_shows_on_its_page(old_run: Run) -> None:
    from tui.app import FinetuiApp
    from tui.screens.run import RunLog, RunScreen
    from tui.widgets.loss_chart import LossChart
    from tui.widgets.scorecard import Scorecard as ScorecardPanel

    app = FinetuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_run(old_run.id)
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.has_metrics)
        page = app.screen
        assert isinstance(page, RunScreen) and page.state == "ready"
        assert len(page.query_one(RunLog).lines) == sum(1 for _ in old_run.events())
        assert [step for step, _ in page.query_one(LossChart).points] == [1, 2, 3, 4]
        text = page.query_one(ScorecardPanel).render().plain
        assert "token accuracy 10.3% →  10.3%" in text and "4 steps" in text


def test_a_followed_log_reads_a_line_once_it_is_whole(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.append(LogEvent(time=time.time(), message="first"))
    [(offset, _)] = list(run.events())
    with run.events_path.open("ab") as fh:
        fh.write(b'{"kind": "log", "message": "sec')
    assert list(run.events(offset)) == []
    with run.events_path.open("ab") as fh:
        fh.write(b'ond"}\n')
    [(_, event)] = list(run.events(offset))
    assert isinstance(event, LogEvent) and event.message == "second"
