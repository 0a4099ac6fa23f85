"""How finetui words its figures, the same in the CLI and the TUI: durations, sizes, models, run events.

Plain strings only (no Textual, no Rich): ``tui.commands`` prints them and
the widgets lay them out, so a figure reads the same in ``finetui show``
and on a run's page.

Text that came from a user, a file or a model (a run's name, a prompt, a
chat template, an error quoting one) goes through ``shown`` before it is
printed or drawn, so a terminal escape in it shows as ``\\x1b`` instead of
retitling or clearing the terminal.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Literal

from engine.data.display import escape_controls
from engine.runs.events import (
    CheckpointEvent,
    EvalEvent,
    LogEvent,
    PhaseEvent,
    RunEvent,
    SampleRates,
    Scorecard,
    StatusEvent,
    StepEvent,
    TrainFigures,
    UnreadableEvent,
)
from engine.words import counted

if TYPE_CHECKING:  # the estimate's module reads models and data: the TUI imports it only where it counts tokens
    from engine.estimate import Estimate, TokenStats
    from engine.infer.protocol import Scores

#: Characters of a damaged event line shown in the log.
UNREADABLE_CHARS = 120


def shown(text: str) -> str:
    """``text`` safe to print or draw: each control character written as ``\\xNN``, newlines and tabs kept.

    The one escaping step of every front end, the same as the data files'
    (``engine.data.display``). It is idempotent (an escaped text has no
    control character left), so text escaped by a caller may pass again.
    """
    return escape_controls(text)


def duration(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``2h07m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def human_bytes(n: int) -> str:
    """``512 B``, ``1.5 KB`` ... ``2.0 TB``: binary units, one decimal."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def number(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``; ``-`` when it has none (a reply carries a non-finite figure as None)."""
    return "-" if value is None else format(value, spec)


def short_model(name: str, width: int | None = None) -> str:
    """A model as people call it: a local folder by its last part, a hub id or bundled name as it is.

    With ``width``, a name that does not fit drops a hub id's owner first,
    then keeps its end (the size and variant are at the end of a model's name).
    """
    path = PurePath(name)
    short = (path.name or name) if path.is_absolute() or name.startswith((".", "~")) else name
    if width is None or len(short) <= width:
        return short
    short = PurePath(short).name or short
    return short if len(short) <= width else "…" + short[-(width - 1) :]


def _stamp(when: float | None) -> str:
    return datetime.fromtimestamp(when).strftime("%H:%M:%S") if when is not None and 0 <= when < 1e11 else "--:--:--"


def event_text(event: RunEvent) -> str:
    """One event in a few words, without its time."""
    match event:
        case StepEvent():
            parts = [f"step {event.step}/{event.max_steps or '?'}", f"loss {event.loss:.4f}"]
            if event.lr is not None:
                parts.append(f"lr {event.lr:.2e}")
            if event.grad_norm is not None:
                parts.append(f"grad {event.grad_norm:.3f}")
            if event.tokens_per_s is not None:
                parts.append(f"{event.tokens_per_s:,.0f} tok/s")
            if event.progress is not None:
                parts.append(f"{100 * event.progress:.0f}%")
            parts.append(f"eta {duration(event.eta_s)}")
            return "  ".join(parts)
        case EvalEvent(figures=f):
            if event.step is not None:  # scored during training, on the fixed eval sample
                if f.loss is None or f.accuracy is None:
                    return f"eval at step {event.step}: no tokens to score"
                return f"eval at step {event.step}: loss {f.loss:.4f}  accuracy {100 * f.accuracy:.1f}%"
            if f.loss is None or f.accuracy is None:
                return f"eval {event.which}: no tokens to score"
            return f"eval {event.which}: loss {f.loss:.4f}  accuracy {100 * f.accuracy:.1f}%  ({f.tokens:,} tokens)"
        case CheckpointEvent():
            return f"checkpoint saved: {event.path}"
        case StatusEvent():
            return f"status: {event.state}" + (f" ({event.reason})" if event.reason else "")
        case PhaseEvent(total=int() as total):
            return f"phase: {event.phase}, {event.done or 0} of {total} done"
        case PhaseEvent():
            return f"phase: {event.phase}"
        case LogEvent():
            return event.message
        case UnreadableEvent(message=str() as message):
            return message
        case UnreadableEvent():
            return f"(unreadable event: {event.raw[:UNREADABLE_CHARS]})"
    return f"(unreadable event: {json.dumps(event.to_json(), default=str)[:UNREADABLE_CHARS]})"


def format_event(event: RunEvent) -> str:
    """One event as one line, stamped with its local time (``finetui logs`` and the run page's log).

    Escaped: a log line or a failure reason may quote the data, a name or a chat template.
    """
    return shown(f"{_stamp(event.time)}  {event_text(event)}")


def progress_cells(state: str, step: StepEvent | None) -> tuple[str, str]:
    """Progress and ETA of a run in ``state`` whose latest step is ``step``, as the runs tables show them."""
    if state == "ready":
        return "100%", "-"
    if state == "broken" or step is None or step.progress is None:
        return "-", "-"
    eta = duration(step.eta_s) if state == "training" else "-"
    return f"{100 * step.progress:.0f}%", eta


#: What a training run is doing in each phase but ``training`` (whose steps say it), in a few words.
PHASE_WORDS = {
    "loading": "loading the model",
    "baseline": "scoring the base model",
    "custom": "scoring the custom model",
    "samples": "writing samples",
    "saving": "saving the adapter",
}
def phase_words(state: str, phase: PhaseEvent | None, after: str | None = None) -> str:
    """What a queued or training run is doing now (``finetui runs``' PHASE, the run page's head); empty for the others.

    ``phase`` is the run's latest phase event; ``after`` the run a queued one
    waits for (``tui.run_feed.queue_order``). The samples phase counts the
    examples done: after 100% a run scores the custom model and writes its
    samples for minutes, and a bare "100%" looks stuck.
    """
    if state == "queued":
        return f"queued: starts after {after}" if after else "queued: starts next"
    if state != "training":
        return ""
    if phase is None or phase.phase == "training":
        return "training"
    if phase.phase == "samples" and phase.total:
        return f"samples {phase.done or 0} of {phase.total}"
    return PHASE_WORDS.get(phase.phase, phase.phase)


def step_summary(state: str, step: StepEvent | None, phase: PhaseEvent | None = None, after: str | None = None) -> str:
    """Where a run stands, in a few words next to its progress bar: its step, and what it does when no step says it."""
    if state == "queued":
        return phase_words(state, phase, after)
    doing = phase_words(state, phase)
    if step is None:
        return doing if state == "training" and phase is not None else {"training": "getting ready"}.get(state, "no steps logged")
    where = f"step {step.step}/{step.max_steps or '?'}"
    if state == "training" and phase is not None and phase.phase != "training":  # after the last step, or loading again to resume
        return f"{where} · {doing}"
    if state == "training":
        return f"{where} · loss {step.loss:.4f} · ETA {duration(step.eta_s)}"
    if state == "ready":
        return f"{where} · done"
    return f"{where} · {state}"


def verdict(baseline: float | None, custom: float | None, higher_is_better: bool) -> str:
    """``better``, ``worse`` or ``same``: how the custom model did on one figure."""
    if baseline is None or custom is None or custom == baseline:
        return "same"
    return "better" if (custom > baseline) == higher_is_better else "worse"


def training_lines(train: TrainFigures) -> tuple[str, str]:
    """Steps, tokens and time; then speed, peak memory and device (either may be empty)."""
    first = [counted(train.steps, "step") if train.steps is not None else "", counted(train.tokens, "token") if train.tokens is not None else ""]
    line = ", ".join(part for part in first if part)
    if train.train_time_s is not None:
        line += f" in {duration(train.train_time_s)}"
    second = [
        f"{train.tokens_per_s:,.0f} tok/s" if train.tokens_per_s is not None else "",
        f"peak {train.peak_memory_bytes / 2**20:,.0f} MiB" if train.peak_memory_bytes is not None else "",
        train.device or "",
    ]
    return line, " · ".join(part for part in second if part)


def answer_rates(card: Scorecard) -> SampleRates | None:
    """The samples' answer-level rates, when the data has answers to check (prompt/completion); else None.

    Token accuracy is teacher-forced: each token is predicted from the true
    ones before it, so it says little about whether a generated answer is
    right. Where the samples checked answers, these rates come first.
    """
    rates = card.samples
    return rates if rates is not None and rates.custom_contains is not None and rates.count else None


def whole_percent(share: float | None) -> str:
    """A share of a few dozen samples as a whole percent (``25%``); ``-`` when unknown."""
    return f"{100 * share:.0f}%" if share is not None else "-"


def format_scorecard(card: Scorecard) -> str:
    """Answers right first where the data has answers, then teacher-forced token accuracy and loss, then the training figures (``finetui show``).

    Each figure says what it measures. A scorecard without eval tokens (no
    figures to compare) says so instead of showing NaN.
    """
    b, c, t = card.baseline, card.custom, card.train
    lines = [f"{'scorecard (held-out eval split)':<40}{'baseline':>8} → {'custom':>8}  change"]
    rates = answer_rates(card)
    if rates is not None:
        for name, base, custom, how in (
            ("answers right", rates.baseline_contains, rates.custom_contains,
             f"the reply contains the reference; greedy decoding, {counted(rates.count, 'held-out prompt')}"),
            ("exact answers", rates.baseline_exact, rates.custom_exact, "the reply is the reference, spaces aside"),
        ):
            change = f"{100 * (custom - base):+.0f} points" if base is not None and custom is not None else ""
            lines.append(f"  {name:<38}{whole_percent(base):>8} → {whole_percent(custom):>8}  {change}")
            lines.append(f"    {how}")
    if card.scored:
        accuracy = f"{100 * b.accuracy:.1f}%", f"{100 * c.accuracy:.1f}%"  # type: ignore[operator]
        lines.append(f"  {'next-token accuracy (teacher-forced)':<38}{accuracy[0]:>8} → {accuracy[1]:>8}  {card.accuracy_points:+.1f} points")
        lines.append("    each token predicted from the true ones before it")
        lines.append(f"  {'loss':<38}{b.loss:>8.4f} → {c.loss:>8.4f}  {card.loss_change:+.4f}")
    else:
        lines.append("  no eval tokens were scored: the eval split had nothing to compare the models on")
    lines.append(f"  {'eval tokens':<38}{c.tokens:>8,}" if c.tokens is not None else f"  {'eval tokens':<38}{'?':>8}")
    line = f"training: {t.steps if t.steps is not None else '?'} steps, " + (f"{t.tokens:,} tokens" if t.tokens is not None else "? tokens")
    line += f" in {duration(t.train_time_s)}"
    if t.tokens_per_s is not None:
        line += f" ({t.tokens_per_s:,.0f} tokens/s)"
    if t.peak_memory_bytes is not None:
        line += f", peak memory {t.peak_memory_bytes / 2**20:,.0f} MiB on {t.device or '?'}"
    if len(t.peak_memory_per_gpu) > 1:
        line += " (per GPU: " + " / ".join(f"{b / 2**20:,.0f}" for b in t.peak_memory_per_gpu) + " MiB)"
    lines.append(line)
    if t.loss_curve:
        (first_step, first_loss), (last_step, last_loss) = t.loss_curve[0], t.loss_curve[-1]
        lines.append(f"train loss: {first_loss:.4f} at step {first_step} → {last_loss:.4f} at step {last_step}")
    lines.extend(evaluation_lines(card))
    return "\n".join(lines)


def evaluation_lines(card: Scorecard) -> list[str]:
    """The eval curve's ends and lowest point, whether it rose after, the kept step, why training stopped early, and the samples."""
    t, lines = card.train, []
    if t.eval_curve:
        (first_step, first_loss), (last_step, last_loss) = t.eval_curve[0], t.eval_curve[-1]
        best_step, best_loss = min(t.eval_curve, key=lambda point: point[1])
        lines.append(f"eval loss during training: {first_loss:.4f} at step {first_step} → {last_loss:.4f} at step {last_step}")
        lines.append(f"  lowest {best_loss:.4f} at step {best_step}")
    note = overfit_note(t)
    if note is not None:
        lines.extend(textwrap.wrap(note, 100, initial_indent="  ", subsequent_indent="  "))
    if t.kept_step is not None:
        lines.append(f"kept the checkpoint of step {t.kept_step} (the lowest eval loss; --no-load-best keeps the last): the custom figures are its")
    if t.stop_reason:
        lines.append(t.stop_reason)
    rates = card.samples
    if rates is not None:
        lines.append(f"samples: {rates.count}, {rates.worse} where the custom model did worse (finetui show RUN --samples)")
    return lines


#: A rise of the eval loss after its lowest point by less than this share of it is noise, not overfitting.
OVERFIT_RISE = 0.01


def overfit_note(train: TrainFigures) -> str | None:
    """What to say when the eval loss rose after its lowest point (overfitting), or None when it did not.

    A run that overfits looks fine on every other figure, so the run page
    and ``finetui show`` say it in words: where the lowest point was, where
    the curve ended, which checkpoint the custom model is (the lowest, by
    default: ``train.load_best``), and what usually helps next time.
    """
    curve = train.eval_curve
    if len(curve) < 2:
        return None
    best_step, best = min(curve, key=lambda point: point[1])
    last_step, last = curve[-1]
    if last_step == best_step or last <= best * (1 + OVERFIT_RISE):
        return None
    if train.kept_step == best_step:
        which = f"the custom model is the step-{best_step} checkpoint, the lowest"
    elif train.kept_step is None:
        which = "the custom model is the last step's (--load-best keeps the lowest)"
    else:
        which = f"the custom model is the step-{train.kept_step} checkpoint"
    return (
        f"Eval loss rose after its lowest, {best:.3f} at step {best_step} ({last:.3f} at the end); {which}. "
        "What usually helps: fewer epochs, a lower learning rate, more data, or early stopping (--early-stop N)."
    )


def likelihood_note(text: str, scores: Mapping[str, Scores]) -> str | None:
    """Why a text of several examples may score lower under the custom model (the Likelihood tab), or None.

    Every training example ended with the end-of-text token, so a fine-tuned
    model expects a text to end after one example: two haiku a blank line
    apart score lower after a haiku run (-5.990 → -6.121 average
    log-likelihood), though it writes haiku better, because it puts its
    weight on the end where the second haiku begins. The figure is right
    for the text as pasted; the note says why beside it, and that scoring one
    example at a time compares the models fairly.
    """
    baseline, custom = (scores[m].avg_logprob if m in scores else None for m in ("baseline", "custom"))
    if baseline is None or custom is None or custom > baseline:
        return None
    if len([part for part in re.split(r"\n[ \t]*\n", text.strip()) if part.strip()]) < 2:
        return None
    return (
        "Several examples, a blank line apart: each training example ended with the end-of-text token, "
        "so the custom model expects the text to end after the first. Score one example at a time to compare."
    )


@dataclass(frozen=True)
class Line:
    """A line of text and how much it stands out; the CLI prints the text, the TUI styles it by ``tone``."""

    text: str
    tone: Literal["", "strong", "warning", "muted"] = ""


def estimate_basis(estimate: Estimate) -> str:
    """What the time of an estimate rests on: a finished run's speed, a guess from the model's size, or nothing."""
    if estimate.tokens_per_s is None:
        return "no estimate: the model's size is unknown until it is downloaded"
    if estimate.measured_by is not None:
        return f"at {estimate.tokens_per_s:,.0f} tokens/s, as run {estimate.measured_by} measured"
    basis = f"rough guess: {estimate.tokens_per_s:,.0f} tokens/s as on {estimate.guess_cores} CPU cores, until a run of this model finishes here"
    return basis + ("; far less with a GPU" if estimate.gpu else "")


def estimate_lines(tokens: TokenStats, estimate: Estimate, asked_seq_len: int) -> list[Line]:
    """The token lengths, steps and time of a run before it starts: the train screen and ``finetui train`` show these.

    ``asked_seq_len`` is the sequence length the settings ask for: a shorter
    one in ``tokens`` is the model's context, and the lines say so.
    """
    approx = "" if tokens.exact else "≈"
    context = " (the model's context)" if tokens.seq_len < asked_seq_len else ""
    lines = [
        Line(f"Tokens/example: median {approx}{tokens.p50:,}, p90 {tokens.p90:,}, max {tokens.max:,}"),
        Line(f"{approx}{tokens.total:,} in all · sequences of {tokens.seq_len:,}{context}"),
    ]
    if tokens.cut:
        lines.append(Line(f"{counted(tokens.cut, 'example')} longer than {tokens.seq_len:,} tokens: cut in training", "warning"))
    if tokens.split:
        lines.append(Line(f"{counted(tokens.split, 'text')} longer than {tokens.seq_len:,} tokens: read in parts"))
    time = f" · about {duration(estimate.seconds)}" if estimate.seconds is not None else ""
    lines.append(Line(f"{counted(estimate.steps, 'step')} · {counted(estimate.train_tokens, 'token')}{time}", "strong"))
    if estimate.processes > 1:
        lines.append(Line(f"global batch {estimate.global_batch:,} sequences per step, over {estimate.processes} processes"))
    lines.append(Line(estimate_basis(estimate), "muted"))
    return lines
