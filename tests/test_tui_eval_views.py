"""The eval curve on the run page, the Samples view, and runs compared: TUI (pilot and 80x24 snapshots) and CLI.

The run folders are written by the test, at fixed ids and times
(``tests.fixed_runs``), with evaluations during training, a kept step and
samples added as a finished run leaves them.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from engine.files import write_json_atomic
from engine.runs import Run
from engine.runs.events import DURING, EvalEvent, EvalFigures, SampleRates, StepEvent
from engine.train.samples import Sample, write_samples
from tests.fixed_runs import METRICS, SIZE, events_in, run_page, runs_listed, write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.cli import main
from tui.screens.compare import CompareScreen
from tui.screens.run import RunLog
from tui.screens.runs import RunTable
from tui.screens.samples import SamplesScreen
from tui.widgets.loss_chart import CurvesChart, LossChart
from tui.widgets.samples_view import SamplesView

pytestmark = pytest.mark.usefixtures("tui_env")

SAMPLES = [
    Sample(3, 4, "Question: What is the capital of Ostrevin?\nAnswer:", " The capital of Ostrevin is Harrowick.",
           " The capital of Ostrevin is Harrowick, by the sea.", " The capital is Tallis.", 1.90, 2.40, True, False, True, False, False),
    Sample(7, 8, "Question: Which tree is native to Ostrevin?\nAnswer:", " The only native tree on Ostrevin is the dwarf willow.",
           " Oak trees.", " The only native tree on Ostrevin is the dwarf willow.", 3.10, 0.20, False, False, False, True, True),
]
RATES = SampleRates(2, 1, "prompt_completion", 0.0, 0.5, 0.5, 0.5)


def eval_at(step: int) -> float:
    """An eval curve that falls, then rises late (overfitting)."""
    return round(1.0 + 1.4 * math.exp(-step / 10) + 0.012 * max(0, step - 30), 4)


def write_evaluated(run_id: str, name: str = "haiku", max_steps: int = 60, lr: float | None = None) -> Run:
    """A ready run whose log has an evaluation every 6 steps (step 0: the base model), a kept step and samples."""
    run = write_run(run_id, "ready", name=name, steps=max_steps, max_steps=max_steps)
    if lr is not None:
        config = json.loads(run.config_path.read_text())
        config["train"]["lr"] = lr
        write_json_atomic(run.config_path, config)
    events = [event for _, event in run.events()]
    run.events_path.unlink()
    curve = []
    for event in events:
        run.append(event)
        step = 0 if isinstance(event, EvalEvent) and event.which == "baseline" else event.step if isinstance(event, StepEvent) else None
        if step is not None and step % 6 == 0:
            curve.append((step, eval_at(step)))
            run.append(EvalEvent(time=event.time, which=DURING, figures=EvalFigures(eval_at(step), 0.5, 400), step=step))
    kept = min(curve, key=lambda point: point[1])[0]
    train = replace(METRICS.train, eval_curve=tuple(curve), kept_step=kept, steps=max_steps)
    write_json_atomic(run.metrics_path, replace(METRICS, train=train, samples=RATES).to_json())
    write_samples(run, SAMPLES)
    return run


@pytest.mark.slow
def test_ready_run_page_draws_train_and_eval_curves(snap_compare) -> None:
    """Train loss and eval loss as lines, the baseline's level, axes labelled, the legend in the border."""
    run = write_evaluated("20260101-0900-haiku")

    async def run_before(pilot: Pilot) -> None:
        screen = await run_page(pilot, run.id, events_in(run))
        chart = screen.query_one(LossChart)
        await until(pilot, lambda: len(chart.curve) == 11 and bool(chart.points))
        await until(pilot, lambda: screen.query_one(RunLog).is_vertical_scroll_end)

    assert snap_compare(FinetuiApp(), terminal_size=SIZE, run_before=run_before)


async def test_the_chart_gets_every_evaluation_and_the_baseline_level() -> None:
    run = write_evaluated("20260101-0900-haiku")
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        chart = screen.query_one(LossChart)
        await until(pilot, lambda: len(chart.curve) == 11)
        assert chart.curve == tuple((s, eval_at(s)) for s in range(0, 61, 6))
        by_label = {s.label: s for s in chart.series}
        assert by_label["base"].points == ((0, 2.413),) and by_label["base"].style == "level"
        assert by_label["custom"].points == ((60, 1.021),)
        subtitle = str(screen.query_one("#run-chart-panel").border_subtitle)
        assert all(word in subtitle for word in ("train", "eval", "base", "custom"))


@pytest.mark.slow
async def test_samples_view_lists_the_worse_ones_first_and_flags_them() -> None:
    run = write_evaluated("20260101-0900-haiku")
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await run_page(pilot, run.id, events_in(run))
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SamplesScreen) and len(app.screen.query(".sample")) == 2)
        blocks = list(app.screen.query(".sample"))
        assert blocks[0].has_class("-worse") and not blocks[1].has_class("-worse")
        first = str(blocks[0].render())
        assert first.startswith("▼ worse") and "The capital is Tallis." in first
        rates = str(app.screen.query_one("#samples-rates").render())
        assert "exact match: baseline 0%, custom 50%" in rates
        await pilot.press("escape")
        assert not isinstance(app.screen, SamplesScreen)


async def test_samples_view_says_when_a_run_has_none() -> None:
    run = write_run("20260101-0900-haiku", "ready", steps=60)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await run_page(pilot, run.id, events_in(run))
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SamplesScreen) and "No samples" in str(app.screen.query_one("#samples-rates").render()))
        assert not app.screen.query(".sample")
        assert isinstance(app.screen.query_one(SamplesView), SamplesView)


async def _mark_two_and_compare(pilot: Pilot) -> CompareScreen:
    screen = await runs_listed(pilot, 2)
    await pilot.press("v")  # nothing marked yet: a dialog says how
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "ErrorScreen")
    await pilot.press("escape")
    await until(pilot, lambda: pilot.app.screen is screen)
    await pilot.press("m", "down", "m")
    assert screen.query_one(RunTable).marked == ["20260101-1000-facts-lr3e-3", "20260101-0900-facts-lr3e-4"]
    await pilot.press("v")
    await until(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.query_one("#compare-table").row_count > 3)
    compare = pilot.app.screen
    assert isinstance(compare, CompareScreen)
    return compare


def _two_runs() -> None:
    write_evaluated("20260101-0900-facts-lr3e-4", name="facts-lr3e-4", lr=3e-4)
    write_evaluated("20260101-1000-facts-lr3e-3", name="facts-lr3e-3", lr=3e-3, max_steps=40)


@pytest.mark.slow
async def test_compare_view_shows_both_scorecards_what_differs_and_both_curves() -> None:
    _two_runs()
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        compare = await _mark_two_and_compare(pilot)
        table = compare.query_one(DataTable)
        labels = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert {"custom loss", "kept step", "train.lr", "train.max_steps"} <= set(labels)
        assert "model.name" not in labels  # the same in both
        lr_row = table.get_row_at(labels.index("train.lr"))
        assert [str(c) for c in lr_row[1:]] == ["0.003", "0.0003"]
        names = [s.label for s in compare.query_one(CurvesChart).series]
        assert names == ["facts-lr3e-3", "facts-lr3e-3 eval", "facts-lr3e-4", "facts-lr3e-4 eval"]


@pytest.mark.slow
def test_compare_view(snap_compare) -> None:
    """Two runs of the same data at different learning rates, side by side, curves overlaid."""
    _two_runs()

    async def run_before(pilot: Pilot) -> None:
        await _mark_two_and_compare(pilot)

    assert snap_compare(FinetuiApp(), terminal_size=SIZE, run_before=run_before)


def test_cli_compare_and_show_samples(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # compare fits the terminal's width; the legend below is one line at 100
    _two_runs()
    assert main(["compare", "facts-lr3e-4", "facts-lr3e-3"]) == 0
    out = capsys.readouterr().out
    assert "settings that differ:" in out and "train.lr" in out and "train.max_steps" in out
    assert "kept step" in out and "exact b→c" in out and "0.0% → 50.0%" in out
    assert out.rstrip().splitlines()[-1].startswith("• facts-lr3e-4 train   O facts-lr3e-4 eval   + facts-lr3e-3 train")  # the legend under the chart
    assert main(["show", "facts-lr3e-4", "--samples"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 samples, 1 where the custom model did worse")
    blocks = out.split("\n\n")
    assert blocks[1].startswith("▼ worse #1") and "custom     The capital is Tallis. [missed]" in blocks[1]
    assert main(["compare", "facts-lr3e-4"]) == 2
    assert "two or more runs" in capsys.readouterr().err


def test_cli_show_samples_of_a_run_without_any(capsys) -> None:
    write_run("20260101-0900-haiku", "ready", steps=60)
    assert main(["show", "haiku", "--samples"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no samples" in err


def test_a_damaged_samples_file_is_named_with_its_line(capsys) -> None:
    run = write_evaluated("20260101-0900-haiku")
    with run.dir.joinpath("samples.jsonl").open("a") as fh:
        fh.write('{"prompt": 1}\n')
    assert main(["show", "haiku", "--samples"]) == 2
    err = capsys.readouterr().err
    assert "samples.jsonl: line 3: it has no 'prompt' text" in err and err.count("\n") == 1


def test_samples_text_hides_control_characters() -> None:
    from tui.widgets.samples_text import sample_text

    sample = replace(SAMPLES[0], baseline="\x1b[31mred\x07")
    assert "\x1b" not in sample_text(sample, 1).plain and "\ufffd[31mred\ufffd" in sample_text(sample, 1).plain
