"""The scorecard of a ready run: baseline against custom on the held-out split."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.runs.events import Scorecard as Card
from tui.format import training_lines, verdict


class Scorecard(Widget):
    """Token accuracy and loss, baseline → custom with the change, then the training figures.

    The same figures as ``finetui show``; the custom value and the change
    are green where fine-tuning helped and red where it hurt. Until the run
    is ready the panel says when the scorecard will come.
    """

    DEFAULT_CSS = """
    Scorecard {
        height: auto;
        & > .scorecard--better { color: $text-success; text-style: bold; }
        & > .scorecard--worse { color: $text-error; text-style: bold; }
        & > .scorecard--muted { color: $text-muted; }
    }
    """
    COMPONENT_CLASSES = {"scorecard--better", "scorecard--worse", "scorecard--muted"}
    PENDING = "The scorecard appears when the run is Ready: the base model and the custom one, scored on the held-out examples."

    metrics: reactive[Card | None] = reactive(None, layout=True)
    """The run's ``metrics.json``; None until the run is ready."""

    def render(self) -> Text:
        muted = self.get_component_rich_style("scorecard--muted")
        if self.metrics is None:
            return Text(self.PENDING, muted)
        baseline, custom = self.metrics.baseline, self.metrics.custom
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{'':8}{'baseline':>8}   {'custom':>7} change\n", muted)
        self._row(text, "accuracy", baseline.accuracy, custom.accuracy, percent=True)
        self._row(text, "loss", baseline.loss, custom.loss, percent=False)
        if custom.tokens is not None:
            text.append(f"on {custom.tokens:,} held-out tokens\n", muted)
        text.append("\n".join(line for line in training_lines(self.metrics.train) if line), muted)
        if self.metrics.train.kept_step is not None:
            text.append(f"\nkept step {self.metrics.train.kept_step}: the best eval loss", muted)
        return text

    def _row(self, text: Text, name: str, baseline: float | None, custom: float | None, percent: bool) -> None:
        """One figure: ``name  baseline → custom  change``, coloured by whether custom did better."""
        style = self._style(verdict(baseline, custom, higher_is_better=percent))
        if percent:
            cells = [f"{100 * v:.1f}%" if v is not None else "-" for v in (baseline, custom)]
            change = f"{100 * (custom - baseline):+.1f} pt" if baseline is not None and custom is not None else ""
        else:
            cells = [f"{v:.4f}" if v is not None else "-" for v in (baseline, custom)]
            change = f"{custom - baseline:+.4f}" if baseline is not None and custom is not None else ""
        text.append(f"{name:<8}{cells[0]:>8} → ")
        text.append(f"{cells[1]:>7}", style)
        text.append(f" {change}\n", style)

    def _style(self, verdict: str) -> Style:
        return self.get_component_rich_style(f"scorecard--{verdict}") if verdict != "same" else Style()
