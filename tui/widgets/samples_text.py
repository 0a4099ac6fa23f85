"""The samples of a run, worded: the same text for ``finetui show --samples`` and the run page's Samples view.

Rich text only (no Textual), so the CLI can import it without the TUI. Model
output is shown as written, except that control characters (a model early
in training writes some) become U+FFFD, so they can't move the cursor or
recolour the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from engine.runs.events import SampleRates
from engine.train.samples import Sample
from engine.words import counted

WORSE = "▼ worse"
#: Width of the row labels (``reference``).
LABEL = 10


def printable(text: str) -> str:
    """``text`` with control characters (newlines and tabs aside) replaced by U+FFFD."""
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)


def _share(value: float | None) -> str:
    return f"{100 * value:.0f}%" if value is not None else "-"


def rates_line(rates: SampleRates | None, samples: Sequence[Sample]) -> str:
    """One line over all samples: how many got worse, and the match rates of both models on prompt/completion data."""
    count = rates.count if rates else len(samples)
    worse = rates.worse if rates else sum(s.worse for s in samples)
    line = f"{counted(count, 'sample')}, {worse} where the custom model did worse (listed first)"
    if rates and rates.custom_exact is not None:
        line += (
            f"\nexact match: baseline {_share(rates.baseline_exact)}, custom {_share(rates.custom_exact)}"
            f" · contains the reference: baseline {_share(rates.baseline_contains)}, custom {_share(rates.custom_contains)}"
        )
    return line


def _loss(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def _marks(exact: bool | None, contains: bool | None) -> str:
    if exact is None:
        return ""
    return " [exact]" if exact else " [contains]" if contains else " [missed]"


def sample_text(sample: Sample, number: int, worse_style: str = "bold red", muted: str = "dim") -> Text:
    """One sample as a block: a head line (flag, example, losses), then prompt, reference and both outputs."""
    text = Text()
    if sample.worse:
        text.append(f"{WORSE} ", worse_style)
    where = f"example {sample.index}, line {sample.line}" if sample.index >= 0 else "example ?"
    text.append(f"#{number} · {where} · loss on the reference: baseline {_loss(sample.baseline_loss)}, custom {_loss(sample.custom_loss)}\n", muted)
    rows = (
        ("prompt", sample.prompt, ""),
        ("reference", sample.reference, ""),
        ("baseline", sample.baseline, _marks(sample.baseline_exact, sample.baseline_contains)),
        ("custom", sample.custom, _marks(sample.custom_exact, sample.custom_contains)),
    )
    for label, body, marks in rows:
        lines = printable(body).strip("\n").split("\n") or [""]
        text.append(f"  {label:<{LABEL}}", muted)
        text.append(lines[0])
        for more in lines[1:]:
            text.append(f"\n  {'':<{LABEL}}{more}")
        if marks:
            text.append(marks, worse_style if label == "custom" and "missed" in marks and sample.worse else muted)
        text.append("\n")
    return text


def samples_text(samples: Sequence[Sample], rates: SampleRates | None) -> Text:
    """All samples, in their stored order (worse first), under the rates line."""
    text = Text(rates_line(rates, samples) + "\n\n")
    for number, sample in enumerate(samples, start=1):
        text.append_text(sample_text(sample, number))
        text.append("\n")
    return text
