"""The train loss of a run, step by step, as a column chart that fits any panel."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

Point = tuple[int, float]
#: Eighths of a cell from the bottom, for column tops finer than one character.
LEVELS = " ▁▂▃▄▅▆▇█"
EVAL_MARK = "●"
#: Cells for the loss labels on the left axis (``2.62``, ``0.0123``).
LABEL_WIDTH = 6
#: Share of the plot height left under the lowest value, so its column still shows.
FLOOR = 0.1


def resample(values: Sequence[float], width: int) -> list[float]:
    """``width`` columns from ``values``: means of neighbours when there are more, repeats when fewer."""
    n = len(values)
    if n == 0 or width < 1:
        return []
    columns = []
    for c in range(width):
        start = c * n // width
        end = max(start + 1, (c + 1) * n // width)
        chunk = values[start:end]
        columns.append(sum(chunk) / len(chunk))
    return columns


def value_range(values: Sequence[float]) -> tuple[float, float]:
    """``(bottom, top)`` of the plot: the top is the largest value, the bottom a little under the smallest."""
    top, low = max(values), min(values)
    span = top - low or abs(top) or 1.0
    return low - FLOOR * span, top


def cell(value: float, bottom: float, top: float, rows: int, row_from_bottom: int) -> str:
    """The glyph of one cell of a column for ``value``, to an eighth of a cell."""
    eighths = max(1, round(8 * rows * (value - bottom) / (top - bottom)))
    return LEVELS[min(8, max(0, eighths - 8 * row_from_bottom))]


def label(value: float) -> str:
    """``value`` in at most ``LABEL_WIDTH`` cells, with as many digits as fit."""
    for text in (f"{value:.3g}", f"{value:.2g}", f"{value:.1g}"):
        if len(text) <= LABEL_WIDTH:
            return text
    return f"{value:.0e}"


class LossChart(Widget):
    """Train loss per logged step as columns of eighth blocks, eval losses as dots.

    Columns are resampled to the plot width (the mean of neighbouring steps
    when there are more steps than columns), so a long run still reads as a
    curve. Block elements render in every terminal font and in tmux, which
    braille does not always. The left axis gives the highest and lowest
    value drawn, the bottom line the first and last step; the axis keeps
    its width, so columns don't shift as the run goes on.
    """

    DEFAULT_CSS = """
    LossChart {
        height: 1fr;
        & > .loss-chart--bar { color: $primary; }
        & > .loss-chart--eval { color: $text-warning; text-style: bold; }
        & > .loss-chart--axis { color: $text-muted; }
    }
    """
    COMPONENT_CLASSES = {"loss-chart--bar", "loss-chart--eval", "loss-chart--axis"}
    EMPTY = "The curve starts with the first logged step."

    points: reactive[tuple[Point, ...]] = reactive(())
    """``(step, train loss)`` in step order."""
    evals: reactive[tuple[Point, ...]] = reactive(())
    """``(step, eval loss)``: the baseline before step 1 (step 0), the custom model at the end."""

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        axis = self.get_component_rich_style("loss-chart--axis")
        if not self.points:
            return Text(self.EMPTY, axis)
        pad = LABEL_WIDTH
        rows, plot_width = height - 1, width - pad - 1
        if rows < 1 or plot_width < 2:
            return Text("")
        columns = resample([loss for _, loss in self.points], plot_width)
        values = columns + [loss for _, loss in self.evals]
        bottom, top = value_range(values)
        labels = (label(top), label(min(values)))
        marks = self._eval_marks(bottom, top, rows, plot_width)
        bar = self.get_component_rich_style("loss-chart--bar")
        dot = self.get_component_rich_style("loss-chart--eval")
        text = Text(no_wrap=True, overflow="crop")
        for row in range(rows):
            side = labels[0] if row == 0 else labels[1] if row == rows - 1 else ""
            text.append(f"{side:>{pad}}{'┤' if side else '│'}", axis)
            for column, value in enumerate(columns):
                if (row, column) in marks:
                    text.append(EVAL_MARK, dot)
                else:
                    text.append(cell(value, bottom, top, rows, rows - 1 - row), bar)
            text.append("\n")
        text.append(self._step_axis(pad, plot_width), axis)
        return text

    def _eval_marks(self, bottom: float, top: float, rows: int, plot_width: int) -> set[tuple[int, int]]:
        """``(row, column)`` of each eval dot: its step along the x axis, its loss up the y axis."""
        first, last = self.points[0][0], self.points[-1][0]
        marks = set()
        for step, loss in self.evals:
            share = (step - first) / (last - first) if last > first else 1.0
            column = min(plot_width - 1, max(0, round(share * (plot_width - 1))))
            height = int(rows * (loss - bottom) / (top - bottom))
            marks.add((rows - 1 - min(rows - 1, max(0, height)), column))
        return marks

    def _step_axis(self, pad: int, plot_width: int) -> str:
        first, last = str(self.points[0][0]), f"step {self.points[-1][0]}"
        gap = plot_width - len(first) - len(last)
        if gap < 1:
            return " " * (pad + 1) + last[:plot_width]
        return " " * (pad + 1) + first + " " * gap + last

