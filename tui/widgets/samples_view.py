"""The Samples view's body: every sample of a run, worse ones first, under the match rates."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.runs.events import SampleRates
from engine.train.samples import Sample
from tui.widgets.samples_text import rates_line, sample_text


class SamplesView(VerticalScroll):
    """A scrollable list of samples: a head line with the rates, then one block per sample.

    Blocks of samples where the custom model did worse carry the
    ``-worse`` class (a red edge) as well as their flag, so they stand out
    when scrolling.
    """

    DEFAULT_CSS = """
    SamplesView {
        height: 1fr;
        & > #samples-rates { padding: 0 1; margin-bottom: 1; text-style: bold; }
        & > .sample { padding: 0 1; margin-bottom: 1; border-left: outer $panel; }
        & > .sample.-worse { border-left: outer $error; }
    }
    """
    EMPTY = "Reading the samples…"

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(self.EMPTY, id="samples-rates", markup=False)

    def show(self, samples: Sequence[Sample], rates: SampleRates | None) -> None:
        """Replace what is shown with ``samples`` (in their stored order) and ``rates``."""
        self.query(".sample").remove()
        self.query_one("#samples-rates", Static).update(rates_line(rates, samples))
        self.mount_all(
            Static(sample_text(s, n, worse_style="bold red", muted="dim"), classes="sample -worse" if s.worse else "sample", markup=False)
            for n, s in enumerate(samples, start=1)
        )

    def say(self, message: str) -> None:
        """Show ``message`` instead of samples (none yet, or why they can't be read)."""
        self.query(".sample").remove()
        self.query_one("#samples-rates", Static).update(Text(message))
