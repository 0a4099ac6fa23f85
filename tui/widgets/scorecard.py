"""The scorecard of a ready run: baseline against custom on the held-out split."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from engine.runs.events import Scorecard as Card
from engine.words import counted
from tui.format import answer_rates, training_lines, verdict, whole_percent


class Scorecard(Widget):
    """Answers right (where the data has answers), token accuracy and loss, baseline → custom with the change, then the training figures.

    The same figures as ``finetui show``, in 36 columns: each named for what
    it measures, with a muted line saying how. Answers right comes first: a
    facts run's teacher-forced token accuracy can reach 96% while a quarter of
    the held-out questions get the right answer. The custom value and the
    change are green where fine-tuning helped and red where it hurt. Until
    the run is ready the panel says when the scorecard will come.
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
    NAME = 14
    """Width of a figure's name; with the cells and the change a row is 36 wide, the panel's inside."""

    metrics: reactive[Card | None] = reactive(None, layout=True)
    """The run's ``metrics.json``; None until the run is ready."""

    def render(self) -> Text:
        muted = self.get_component_rich_style("scorecard--muted")
        if self.metrics is None:
            return Text(self.PENDING, muted)
        card = self.metrics
        baseline, custom = card.baseline, card.custom
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{'held-out':<{self.NAME}}{'base':>6}   {'custom':>6} change\n", muted)
        rates = answer_rates(card)
        if rates is not None:
            self._row(text, "answers right", rates.baseline_contains, rates.custom_contains, "rate")
            text.append(f" contains the reference · {counted(rates.count, 'prompt')}\n", muted)
        self._row(text, "token accuracy", baseline.accuracy, custom.accuracy, "accuracy")
        tokens = f", {counted(custom.tokens, 'token')}" if custom.tokens is not None else ""
        text.append(f" teacher-forced{tokens}\n", muted)
        self._row(text, "eval loss", baseline.loss, custom.loss, "loss")
        steps, speed = training_lines(card.train)
        kept = f"kept step {card.train.kept_step}: the best eval loss" if card.train.kept_step is not None else ""
        text.append("\n".join(line for line in (steps, kept, speed) if line), muted)  # the speed last: a tall card loses it first
        return text

    def _row(self, text: Text, name: str, baseline: float | None, custom: float | None, unit: str) -> None:
        """One figure: ``name  baseline → custom  change``, coloured by whether custom did better."""
        style = self._style(verdict(baseline, custom, higher_is_better=unit != "loss"))
        both = baseline is not None and custom is not None
        if unit == "rate":
            cells = [whole_percent(baseline), whole_percent(custom)]
            change = f"{100 * (custom - baseline):+.0f} pt" if both else ""  # type: ignore[operator]
        elif unit == "accuracy":
            cells = [f"{100 * v:.1f}%" if v is not None else "-" for v in (baseline, custom)]
            change = f"{100 * (custom - baseline):+.0f} pt" if both else ""  # type: ignore[operator]
        else:
            cells = [f"{v:.3f}" if v is not None else "-" for v in (baseline, custom)]
            change = f"{custom - baseline:+.3f}" if both else ""  # type: ignore[operator]
        text.append(f"{name:<{self.NAME}}{cells[0]:>6} → ")
        text.append(f"{cells[1]:>6}", style)
        text.append(f" {change}\n".replace(" pt", "pt") if len(change) > 6 else f" {change}\n", style)

    def _style(self, verdict: str) -> Style:
        return self.get_component_rich_style(f"scorecard--{verdict}") if verdict != "same" else Style()
