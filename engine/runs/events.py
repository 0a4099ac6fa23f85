"""What a run writes about itself: the lines of ``events.jsonl`` and the scorecard in ``metrics.json``.

One frozen dataclass per event kind, written by the training process
(``engine.train``, ``engine.runs``) and read by the CLI, the TUI and the
engine itself, always through these classes: a reader uses attributes,
never string keys, and a field is renamed in one place.

Reading is lenient where it can be and says so where it can't: a figure
that is missing or not a finite number reads as None (an old or damaged
file still shows what it has), while a line that is not a JSON object, or
lacks what its kind needs (a ``step`` without its step and loss), reads as
an ``UnreadableEvent`` carrying the raw text. Lines written before
``schema`` existed (finetui up to commit 9aa034c) have the same fields and
read as schema 1.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

#: The version of the event and scorecard formats this code writes.
SCHEMA = 1


def finite(raw: Any, key: str) -> float | None:
    """``raw[key]`` as a finite float, or None when missing, not a number, a bool, NaN or infinite."""
    value = raw.get(key) if isinstance(raw, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def count(raw: Any, key: str) -> int | None:
    """``raw[key]`` as a whole number, or None."""
    value = raw.get(key) if isinstance(raw, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def text(raw: Any, key: str) -> str | None:
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


class EventError(ValueError):
    """A line that can't be read as its kind; the message says what is missing."""


@dataclass(frozen=True, kw_only=True)
class RunEvent:
    """What every event has: when it was written (seconds since the epoch; None if unreadable)."""

    KIND: ClassVar[str] = ""
    time: float | None = field(default_factory=time.time)

    def fields(self) -> dict[str, Any]:
        """The kind's own fields, as written to the line."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "kind": self.KIND, "schema": SCHEMA, **self.fields()}

    @classmethod
    def parse(cls, raw: dict[str, Any], when: float | None) -> RunEvent:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class LogEvent(RunEvent):
    """A line of prose for the log: what the run is doing."""

    KIND: ClassVar[str] = "log"
    message: str
    level: str = "info"

    def fields(self) -> dict[str, Any]:
        return {"level": self.level, "message": self.message}

    @classmethod
    def parse(cls, raw: dict[str, Any], when: float | None) -> LogEvent:
        message = text(raw, "message")
        if message is None:
            raise EventError("a log line without a message")
        return cls(time=when, message=message, level=text(raw, "level") or "info")


@dataclass(frozen=True, kw_only=True)
class StepEvent(RunEvent):
    """One logging step of the Trainer: the figures ``EventsCallback.on_log`` reads."""

    KIND: ClassVar[str] = "step"
    step: int
    loss: float
    max_steps: int | None = None
    epoch: float | None = None
    lr: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    tokens_seen: int | None = None
    progress: float | None = None
    """Share of ``max_steps`` done, 0 to 1."""
    elapsed_s: float | None = None
    """Seconds since this attempt began training (a resumed run starts again at 0)."""
    eta_s: float | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "max_steps": self.max_steps,
            "epoch": self.epoch,
            "loss": self.loss,
            "lr": self.lr,
            "grad_norm": self.grad_norm,
            "tokens_per_s": self.tokens_per_s,
            "tokens_seen": self.tokens_seen,
            "progress": self.progress,
            "elapsed_s": self.elapsed_s,
            "eta_s": self.eta_s,
        }

    @classmethod
    def parse(cls, raw: dict[str, Any], when: float | None) -> StepEvent:
        step, loss = count(raw, "step"), finite(raw, "loss")
        if step is None or loss is None:
            raise EventError("a step without its step number and loss")
        return cls(
            time=when,
            step=step,
            loss=loss,
            max_steps=count(raw, "max_steps"),
            epoch=finite(raw, "epoch"),
            lr=finite(raw, "lr"),
            grad_norm=finite(raw, "grad_norm"),
            tokens_per_s=finite(raw, "tokens_per_s"),
            tokens_seen=count(raw, "tokens_seen"),
            progress=finite(raw, "progress"),
            elapsed_s=finite(raw, "elapsed_s"),
            eta_s=finite(raw, "eta_s"),
        )


@dataclass(frozen=True)
class EvalFigures:
    """Loss and token accuracy over ``tokens`` scored tokens; None for both when no token was scored."""

    loss: float | None
    accuracy: float | None
    tokens: int | None

    @property
    def scored(self) -> bool:
        return bool(self.tokens) and self.loss is not None and self.accuracy is not None

    def to_json(self) -> dict[str, Any]:
        return {"loss": self.loss, "accuracy": self.accuracy, "tokens": self.tokens}

    @classmethod
    def from_json(cls, raw: Any) -> EvalFigures:
        return cls(finite(raw, "loss"), finite(raw, "accuracy"), count(raw, "tokens"))


#: ``EvalEvent.which`` of a score taken during training, on the fixed eval sample (``engine.train.eval_steps``).
DURING = "during"


@dataclass(frozen=True, kw_only=True)
class EvalEvent(RunEvent):
    """The held-out split scored by the ``baseline`` (adapter off) or the ``custom`` model,
    or the fixed eval sample scored ``during`` training at ``step`` (step 0: the base model).

    ``step`` is None for the baseline and custom scores; lines written before
    it existed read the same way.
    """

    KIND: ClassVar[str] = "eval"
    which: str
    figures: EvalFigures
    step: int | None = None

    def fields(self) -> dict[str, Any]:
        out = {"which": self.which, **self.figures.to_json()}
        if self.step is not None:
            out["step"] = self.step
        return out

    @classmethod
    def parse(cls, raw: dict[str, Any], when: float | None) -> EvalEvent:
        figures = EvalFigures.from_json(raw)
        if figures.tokens is None or figures.tokens < 0:
            raise EventError("an eval without its token count")
        if figures.tokens > 0 and (figures.loss is None or figures.accuracy is None):
            raise EventError("an eval of scored tokens without its loss and accuracy")
        return cls(time=when, which=text(raw, "which") or "?", figures=figures, step=count(raw, "step"))


@dataclass(frozen=True, kw_only=True)
class CheckpointEvent(RunEvent):
    """A checkpoint saved (``path`` relative to the run folder)."""

    KIND: ClassVar[str] = "checkpoint"
    step: int | None
    path: str

    def fields(self) -> dict[str, Any]:
        return {"step": self.step, "path": self.path}

    @classmethod
    def parse(cls, raw: dict[str, Any], when: float | None) -> CheckpointEvent:
        return cls(time=when, step=count(raw, "step"), path=text(raw, "path") or "?")


@dataclass(frozen=True, kw_only=True)
class StatusEvent(RunEvent):
    """The run moved to ``state``; ``reason`` for a failure, ``resumed_from`` when queued by a resume."""

    KIND: ClassVar[str] = "status"
    state: str
    reason: str | None = None
    resumed_from: str | None = None
    resumed: bool = False
    """Whether this is a resume's ``queued`` (``resumed_from`` is None when it had no checkpoint)."""

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.resumed:
            out["resumed_from"] = self.resumed_from
        return out

    @classmethod
    def parse(cls, raw: dict[str, Any], when: float | None) -> StatusEvent:
        state = text(raw, "state")
        if state is None:
            raise EventError("a status without its state")
        return cls(
            time=when, state=state, reason=text(raw, "reason"), resumed_from=text(raw, "resumed_from"), resumed="resumed_from" in raw
        )


@dataclass(frozen=True, kw_only=True)
class PhaseEvent(RunEvent):
    """The run entered a phase: ``loading``, ``baseline``, ``training``, ``custom``, ``samples`` or ``saving``.

    ``samples`` comes again after each batch of samples with ``done`` of
    ``total`` examples completed, so a reader can say how far the minutes
    after the last step have gone. Both are absent from the other phases and
    from lines written before they existed, which read as None; a finetui
    from before them reads such a line as a plain phase.
    """

    KIND: ClassVar[str] = "phase"
    phase: str
    done: int | None = None
    total: int | None = None

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase}
        if self.total is not None:
            out["done"], out["total"] = self.done, self.total
        return out

    @classmethod
    def parse(cls, raw: dict[str, Any], when: float | None) -> PhaseEvent:
        phase = text(raw, "phase")
        if phase is None:
            raise EventError("a phase without its name")
        return cls(time=when, phase=phase, done=count(raw, "done"), total=count(raw, "total"))


@dataclass(frozen=True, kw_only=True)
class UnreadableEvent(RunEvent):
    """A line that is not an event this code knows: torn, edited by hand, or of an unknown kind.

    Never written; readers that only want figures skip it, the log shows it
    (``raw`` is the line as it is on disk, ``why`` what is wrong with it).
    """

    KIND: ClassVar[str] = "unreadable"
    raw: str
    why: str
    message: str | None = None
    """The line's ``message`` when it has one (an unknown kind from a newer finetui still reads as a line)."""

    def fields(self) -> dict[str, Any]:
        raise TypeError("an unreadable line is never written")


KINDS: dict[str, type[RunEvent]] = {
    cls.KIND: cls for cls in (LogEvent, StepEvent, EvalEvent, CheckpointEvent, StatusEvent, PhaseEvent)
}


def event_from_json(raw: Any, line: str = "") -> RunEvent:
    """A decoded line as its typed event; an ``UnreadableEvent`` when it is not one (never raises)."""
    shown = line or json.dumps(raw, ensure_ascii=False, default=str)
    if not isinstance(raw, dict):
        return UnreadableEvent(time=None, raw=shown, why="not a JSON object")
    when = finite(raw, "time")
    kind = raw.get("kind")
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return UnreadableEvent(time=when, raw=shown, why=f"unknown kind {kind!r}", message=text(raw, "message"))
    try:
        return cls.parse(raw, when)
    except EventError as error:
        return UnreadableEvent(time=when, raw=shown, why=str(error), message=text(raw, "message"))


def event_from_line(line: bytes) -> RunEvent:
    """One whole line of ``events.jsonl`` (its newline stripped or not) as its typed event."""
    shown = line.decode("utf-8", errors="replace").rstrip("\n")
    try:
        raw = json.loads(line)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return UnreadableEvent(time=None, raw=shown, why="not JSON")
    return event_from_json(raw, shown)


@dataclass(frozen=True)
class TrainFigures:
    """How training went: steps, tokens, time, speed, memory; None where a figure is missing."""

    loss_curve: tuple[tuple[int, float], ...] = ()
    steps: int | None = None
    tokens: int | None = None
    wall_time_s: float | None = None
    train_time_s: float | None = None
    tokens_per_s: float | None = None
    peak_memory_bytes: int | None = None
    peak_memory_per_gpu: tuple[int, ...] = ()
    """Peak bytes allocated on each GPU (``torch.cuda.max_memory_allocated``); empty on the CPU and in older runs."""
    device: str | None = None
    train_examples: int | None = None
    eval_examples: int | None = None
    eval_curve: tuple[tuple[int, float], ...] = ()
    """Eval loss on the fixed eval sample by step, scored during training (step 0: the base model)."""
    kept_step: int | None = None
    """With ``--load-best``: the step whose checkpoint the adapter and the custom score come from."""
    stop_reason: str | None = None
    """Why training ended before its last step (``--early-stop``), in words; None when it ran to the end."""

    def to_json(self) -> dict[str, Any]:
        return {
            "loss_curve": [[step, loss] for step, loss in self.loss_curve],
            "eval_curve": [[step, loss] for step, loss in self.eval_curve],
            "kept_step": self.kept_step,
            "stop_reason": self.stop_reason,
            "steps": self.steps,
            "tokens": self.tokens,
            "wall_time_s": self.wall_time_s,
            "train_time_s": self.train_time_s,
            "tokens_per_s": self.tokens_per_s,
            "peak_memory_bytes": self.peak_memory_bytes,
            "peak_memory_per_gpu": list(self.peak_memory_per_gpu),
            "device": self.device,
            "train_examples": self.train_examples,
            "eval_examples": self.eval_examples,
        }

    @classmethod
    def from_json(cls, raw: Any) -> TrainFigures:
        memory = finite(raw, "peak_memory_bytes")
        return cls(
            loss_curve=_curve(raw, "loss_curve"),
            eval_curve=_curve(raw, "eval_curve"),
            kept_step=count(raw, "kept_step"),
            stop_reason=text(raw, "stop_reason"),
            steps=count(raw, "steps"),
            tokens=count(raw, "tokens"),
            wall_time_s=finite(raw, "wall_time_s"),
            train_time_s=finite(raw, "train_time_s"),
            tokens_per_s=finite(raw, "tokens_per_s"),
            peak_memory_bytes=int(memory) if memory is not None else None,
            peak_memory_per_gpu=_byte_counts(raw.get("peak_memory_per_gpu") if isinstance(raw, dict) else None),
            device=text(raw, "device"),
            train_examples=count(raw, "train_examples"),
            eval_examples=count(raw, "eval_examples"),
        )


def _curve(raw: Any, key: str) -> tuple[tuple[int, float], ...]:
    """``[[step, loss], ...]`` read back, skipping any point that is not a whole step and a finite loss."""
    curve = []
    for point in (raw.get(key) if isinstance(raw, dict) else None) or []:
        if isinstance(point, list) and len(point) == 2:
            step, loss = count({"v": point[0]}, "v"), finite({"v": point[1]}, "v")
            if step is not None and loss is not None:
                curve.append((step, loss))
    return tuple(curve)


@dataclass(frozen=True)
class SampleRates:
    """What the generated samples add up to (``engine.train.samples``): how many, how many got worse,
    and for prompt/completion data the share each model got exactly, or contained, the reference."""

    count: int
    worse: int
    """Samples on which the custom model did worse than the baseline (flagged, listed first)."""
    kind: str | None = None
    baseline_exact: float | None = None
    baseline_contains: float | None = None
    custom_exact: float | None = None
    custom_contains: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "worse": self.worse,
            "kind": self.kind,
            "baseline": {"exact": self.baseline_exact, "contains": self.baseline_contains},
            "custom": {"exact": self.custom_exact, "contains": self.custom_contains},
        }

    @classmethod
    def from_json(cls, raw: Any) -> SampleRates | None:
        """The rates read back; None when the section is missing or has no count (a run from before samples)."""
        samples = count(raw, "count")
        if samples is None:
            return None
        base = raw.get("baseline") if isinstance(raw, dict) else None
        custom = raw.get("custom") if isinstance(raw, dict) else None
        return cls(
            samples,
            count(raw, "worse") or 0,
            text(raw, "kind"),
            finite(base, "exact"),
            finite(base, "contains"),
            finite(custom, "exact"),
            finite(custom, "contains"),
        )


def _byte_counts(raw: Any) -> tuple[int, ...]:
    """A list of whole byte counts; anything else (absent in an older run, damaged) reads as none."""
    if not isinstance(raw, list) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in raw):
        return ()
    return tuple(raw)


@dataclass(frozen=True)
class Scorecard:
    """``metrics.json``: baseline against custom on the held-out split, and the training figures."""

    baseline: EvalFigures
    custom: EvalFigures
    train: TrainFigures
    schema: int = SCHEMA
    samples: SampleRates | None = None
    """Exact-match and contains rates of the samples; None for a run from before samples, or with none."""

    @property
    def scored(self) -> bool:
        """Whether both models were scored on some tokens (else there is nothing to compare)."""
        return self.baseline.scored and self.custom.scored

    @property
    def loss_change(self) -> float | None:
        if not self.scored:
            return None
        return self.custom.loss - self.baseline.loss  # type: ignore[operator]

    @property
    def accuracy_points(self) -> float | None:
        if not self.scored:
            return None
        return 100.0 * (self.custom.accuracy - self.baseline.accuracy)  # type: ignore[operator]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "baseline": self.baseline.to_json(),
            "custom": self.custom.to_json(),
            "change": {"loss": self.loss_change, "accuracy_points": self.accuracy_points},
            "train": self.train.to_json(),
            **({"samples": self.samples.to_json()} if self.samples else {}),
        }

    @classmethod
    def from_json(cls, raw: Any) -> Scorecard:
        """A scorecard read back; ``ValueError`` when it is not one (not an object of sections).

        The ``change`` section is derived from the two evals, so it is not read.
        """
        if not isinstance(raw, dict):
            raise ValueError("not a scorecard (an object of sections)")
        sections = {k: v for k, v in raw.items() if k != "schema"}
        if not all(isinstance(part, dict) for part in sections.values()):
            raise ValueError("not a scorecard (an object of sections)")
        schema = count(raw, "schema") or SCHEMA
        return cls(
            EvalFigures.from_json(raw.get("baseline")),
            EvalFigures.from_json(raw.get("custom")),
            TrainFigures.from_json(raw.get("train")),
            schema,
            SampleRates.from_json(raw.get("samples")),
        )
