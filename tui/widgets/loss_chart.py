"""Loss curves as a line chart (plotext, through textual-plotext) that fits any panel, 80x24 included.

A run's page draws its train loss and its eval loss by step, with the
baseline's eval loss as a level line to beat; the compare view overlays the
curves of several runs. Axes are labelled (step, loss) and ticked on whole
steps; the legend goes in the panel's border, not over the curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual.app import RenderResult
from textual.content import Content
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from tui.format import shown

Point = tuple[int, float]
#: Colours for curves, in order (plotext names; the legend uses the same ones).
PALETTE = ("cyan", "orange", "magenta", "green", "red", "blue")
#: Below this many cells either way the chart says nothing rather than draw a scribble.
MIN_WIDTH, MIN_HEIGHT = 20, 5
#: Step ticks along the x axis, at most.
X_TICKS = 5
#: Legend glyphs by style.
GLYPHS = {"line": "━", "level": "┄", "dot": "●"}
#: Rich colour names for plotext's (the legend in the border).
RICH = {"cyan": "cyan", "orange": "dark_orange", "magenta": "magenta", "green": "green", "red": "red", "blue": "blue", "gray": "grey62"}


@dataclass(frozen=True)
class Series:
    """One thing drawn: a ``line`` through its points, a ``level`` line across the chart at its one value, or a ``dot``."""

    label: str
    points: tuple[Point, ...]
    color: str
    style: Literal["line", "level", "dot"] = "line"


def step_ticks(first: int, last: int, most: int = X_TICKS) -> list[int]:
    """Whole steps from ``first`` to ``last`` for the x axis, evenly spread, at most ``most`` of them."""
    if last <= first:
        return [first]
    stride = max(1, -(-(last - first) // (most - 1)))
    ticks = list(range(first, last + 1, stride))
    if ticks[-1] != last:
        if last - ticks[-1] < stride / 2 and len(ticks) > 1:
            ticks[-1] = last
        else:
            ticks.append(last)
    return ticks[:most] if len(ticks) > most else ticks


def legend(series: Sequence[Series]) -> Content:
    """The series' names with their glyphs in their colours, for a border subtitle.

    Content, not markup: a series is named after its run, and a run's name
    may hold ``[`` (or a terminal escape, which is shown escaped).
    """
    parts = [Content.assemble((GLYPHS[s.style], RICH.get(s.color, s.color)), " ", shown(s.label)) for s in series if s.points]
    return Content(" ").join(parts)


class CurvesChart(PlotextPlot):
    """Any number of loss series over steps, in one chart with labelled axes."""

    DEFAULT_CSS = """
    CurvesChart {
        height: 1fr;
        & > .curves-chart--empty { color: $text-muted; }
    }
    """
    COMPONENT_CLASSES = {"curves-chart--empty"}
    EMPTY = "The curves start with the first logged step."

    series: reactive[tuple[Series, ...]] = reactive(())

    def render(self) -> RenderResult:
        drawn = [s for s in self.series if s.points]
        steps = [step for s in drawn if s.style != "level" for step, _ in s.points]
        if not steps:
            return Text(self.EMPTY, self.get_component_rich_style("curves-chart--empty"))
        if self.size.width < MIN_WIDTH or self.size.height < MIN_HEIGHT:
            return Text("")
        plt = self.plt
        plt.clear_data()
        first, last = min(steps), max(steps)
        for s in drawn:
            xs = [step for step, _ in s.points]
            ys = [loss for _, loss in s.points]
            if s.style == "level":
                plt.plot([first, last], [ys[0], ys[0]], color=s.color, marker="-")
            elif s.style == "dot":
                plt.scatter(xs, ys, color=s.color, marker="●")
            else:
                plt.plot(xs, ys, color=s.color, marker="hd")
        plt.xticks(step_ticks(first, last))
        plt.xlabel("step")
        plt.ylabel("loss")
        return super().render()


class LossChart(CurvesChart):
    """A run's curves: train loss, eval loss during training, the baseline's level and the custom model's score.

    The run page sets ``points``, ``curve`` and ``evals`` as events arrive;
    the chart turns them into its series.
    """

    EMPTY = "The curve starts with the first logged step."

    points: reactive[tuple[Point, ...]] = reactive(())
    """``(step, train loss)`` in step order."""
    curve: reactive[tuple[Point, ...]] = reactive(())
    """``(step, eval loss)`` on the fixed eval sample during training; step 0 is the base model."""
    evals: reactive[tuple[Point, ...]] = reactive(())
    """``(step, eval loss)`` on the whole eval split: the baseline before step 1 (step 0), the custom model at the end."""

    def watch_points(self) -> None:
        self._redraw()

    def watch_curve(self) -> None:
        self._redraw()

    def watch_evals(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        baseline = [(step, loss) for step, loss in self.evals if step == 0]
        custom = [(step, loss) for step, loss in self.evals if step != 0]
        self.series = (
            Series("train", self.points, PALETTE[0]),
            Series("eval", self.curve, PALETTE[1]),
            Series("base", tuple(baseline), "gray", "level"),
            Series("custom", tuple(custom), PALETTE[1], "dot"),
        )
