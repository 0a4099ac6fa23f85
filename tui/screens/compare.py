"""Runs compared (m marks runs on the list, v opens this): the settings that differ, scorecards side by side, the curves overlaid.

The same figures and differences as ``finetui compare`` (``engine.runs.compare``),
read from the run folders in a thread worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Header

from engine.runs.compare import ComparedRun, compared, differing, figure_rows
from engine.runs.process import refresh
from tui.format import shown
from tui.run_feed import run_by_id
from tui.screens.base import FinetuiScreen
from tui.widgets.footer import KeysFooter
from tui.widgets.loss_chart import PALETTE, CurvesChart, Series, legend

#: Widest cell of a run's column.
CELL = 18


@dataclass
class RunsCompared(Message):
    """What the worker read of the runs, in the order asked; ``error`` when one could not be read at all."""

    runs: list[ComparedRun]
    error: str | None = None


def curves(runs: list[ComparedRun]) -> tuple[Series, ...]:
    """Each run's train loss and eval loss, in the run's colour (eval drawn as its own series, named so)."""
    out = []
    for i, run in enumerate(runs):
        color = PALETTE[i % len(PALETTE)]
        out.append(Series(f"{run.name}", run.train_curve, color))
        if run.eval_curve:
            out.append(Series(f"{run.name} eval", run.eval_curve, color, "dot"))
    return tuple(out)


def _cut(text: str) -> Text:
    """A cell as typed (a Text, not markup: a run's name or a setting may hold ``[``), escaped and cut to ``CELL``."""
    text = shown(text)
    return Text(text if len(text) <= CELL else text[: CELL - 1] + "…")


class CompareScreen(FinetuiScreen):
    """Two or more runs side by side."""

    DEFAULT_CSS = """
    CompareScreen {
        & > #compare-table { height: auto; max-height: 60%; }
        & > #compare-chart-panel { height: 1fr; min-height: 8; border: round $panel; padding: 0 1; }
    }
    """
    BINDINGS = [Binding("escape", "app.pop_screen", "Runs", tooltip="Back to the list of runs", id="compare-back")]
    AUTO_FOCUS = "#compare-table"

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.sub_title = f"comparing {len(run_ids)} runs"

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        with Vertical(id="compare-chart-panel") as panel:
            panel.border_title = "Loss"
            yield CurvesChart(id="compare-chart")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._read()

    @work(thread=True, exit_on_error=False, group="compare-read")
    def _read(self) -> None:
        try:
            runs = [compared(run, refresh(run).state) for run in map(run_by_id, self.run_ids)]
        except OSError as error:
            self.post_message(RunsCompared([], str(error)))
            return
        self.post_message(RunsCompared(runs))

    def on_runs_compared(self, message: RunsCompared) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        if message.error is not None:
            table.add_column("Can't compare")
            table.add_row(Text(shown(message.error)))
            return
        runs = message.runs
        table.add_column("", key="label")
        for run in runs:
            table.add_column(_cut(run.name), key=run.id)
        rows = figure_rows(runs)
        table.add_row(*rows[0][:1], *(_cut(c) for c in rows[0][1]))  # the states, then what differs, then the figures
        for key in differing(runs):
            table.add_row(key, *(_cut(str(run.settings.get(key, "-"))) for run in runs))
        for label, cells in rows[1:]:
            table.add_row(label, *(_cut(c) for c in cells))
        chart = self.query_one(CurvesChart)
        chart.series = curves(runs)
        self.query_one("#compare-chart-panel").border_subtitle = legend(chart.series)
