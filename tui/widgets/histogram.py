"""A labelled bar chart of a length distribution."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

Bar = tuple[int, int, int]
#: Eighths of a cell, for bar ends finer than one character.
EIGHTHS = " ▏▎▍▌▋▊▉█"


def fit_bars(bars: Sequence[Bar], rows: int) -> list[Bar]:
    """Merge neighbouring bars until at most ``rows`` remain, keeping edges and totals."""
    if rows < 1 or not bars:
        return []
    group = math.ceil(len(bars) / rows)
    merged: list[Bar] = []
    for i in range(0, len(bars), group):
        chunk = bars[i : i + group]
        merged.append((chunk[0][0], chunk[-1][1], sum(n for _, _, n in chunk)))
    return merged


def bar_cells(count: int, peak: int, width: int) -> str:
    """A bar of ``count`` out of ``peak`` drawn in ``width`` cells, to an eighth of a cell."""
    if width < 1 or peak < 1:
        return ""
    eighths = round(8 * width * count / peak)
    if count and not eighths:
        eighths = 1
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


class LengthHistogram(Widget):
    """``low–high  ██████▍  count`` rows for ``LengthStats.histogram``.

    Textual's ``Sparkline`` scales bars from the smallest value, so the
    lowest bar reads as empty, and it has no labels; a histogram needs
    bars from zero and ranges a reader can use. When the widget has fewer
    lines than bars, neighbouring bars merge, so it fits any height.
    """

    DEFAULT_CSS = """
    LengthHistogram {
        height: auto;
        & > .length-histogram--bar { color: $primary; }
        & > .length-histogram--label { color: $text-muted; }
    }
    """
    COMPONENT_CLASSES = {"length-histogram--bar", "length-histogram--label"}

    bars: reactive[tuple[Bar, ...]] = reactive((), layout=True)
    """``(low, high, count)`` per bar, in increasing order of length."""

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.bars)

    def render(self) -> Text:
        rows = fit_bars(self.bars, self.content_size.height or len(self.bars))
        if not rows:
            return Text("")
        labels = [f"{low:,}–{high:,}" for low, high, _ in rows]
        counts = [f"{n:,}" for _, _, n in rows]
        label_width = max(map(len, labels))
        count_width = max(map(len, counts))
        bar_width = max(1, self.content_size.width - label_width - count_width - 2)
        peak = max(n for _, _, n in rows)
        bar_style = self.get_component_rich_style("length-histogram--bar")
        label_style = self.get_component_rich_style("length-histogram--label")
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (label, count, (_, _, n)) in enumerate(zip(labels, counts, rows, strict=True)):
            if i:
                text.append("\n")
            text.append(f"{label:>{label_width}} ", label_style)
            text.append(f"{bar_cells(n, peak, bar_width):<{bar_width}}", bar_style)
            text.append(f" {count:>{count_width}}")
        return text
