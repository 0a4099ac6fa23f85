"""The scorecard of a ready run: baseline against custom on the held-out split."""

from __future__ import annotations

import math
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.commands.runview import duration


def _number(section: Any, key: str) -> float | None:
    """A finite number from a metrics section, or None: an old or partial file must not break the panel."""
    value = section.get(key) if isinstance(section, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def verdict(baseline: float | None, custom: float | None, higher_is_better: bool) -> str:
    """``better``, ``worse`` or ``same``: how the custom model did on one figure."""
    if baseline is None or custom is None or custom == baseline:
        return "same"
    return "better" if (custom > baseline) == higher_is_better else "worse"


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

    metrics: reactive[dict[str, Any] | None] = reactive(None, layout=True)
    """The run's ``metrics.json``; None until the run is ready."""

    def render(self) -> Text:
        muted = self.get_component_rich_style("scorecard--muted")
        if self.metrics is None:
            return Text(self.PENDING, muted)
        baseline, custom = self.metrics.get("baseline"), self.metrics.get("custom")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{'':8}{'baseline':>8}   {'custom':>7} change\n", muted)
        self._row(text, "accuracy", _number(baseline, "accuracy"), _number(custom, "accuracy"), percent=True)
        self._row(text, "loss", _number(baseline, "loss"), _number(custom, "loss"), percent=False)
        tokens = _number(custom, "tokens")
        if tokens is not None:
            text.append(f"on {tokens:,.0f} held-out tokens\n", muted)
        text.append(self._training(self.metrics.get("train")), muted)
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

    @staticmethod
    def _training(train: Any) -> str:
        """Steps, tokens and time, then speed, memory and device, on two short lines."""
        steps, tokens = _number(train, "steps"), _number(train, "tokens")
        seconds, speed = _number(train, "train_time_s"), _number(train, "tokens_per_s")
        memory = _number(train, "peak_memory_bytes")
        first = [f"{steps:,.0f} steps" if steps is not None else "", f"{tokens:,.0f} tokens" if tokens is not None else ""]
        line = ", ".join(part for part in first if part)
        if seconds is not None:
            line += f" in {duration(seconds)}"
        second = [
            f"{speed:,.0f} tok/s" if speed is not None else "",
            f"peak {memory / 2**20:,.0f} MiB" if memory is not None else "",
            str(train.get("device", "")) if isinstance(train, dict) else "",
        ]
        return "\n".join(part for part in (line, " · ".join(p for p in second if p)) if part)
