"""The validation report: counts, length distribution and warnings.

The report is plain data so the CLI can print it, ``--json`` can dump it and
the TUI can lay it out, all from the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.data.examples import Example
from engine.words import counted, plural

#: How each record layout is named in the report.
FLAVOURS = {
    "text": "text",
    "prompt_completion": "prompt/completion",
    "messages": "chat messages (OpenAI)",
    "sharegpt": "ShareGPT conversations",
    "alpaca": "Alpaca instructions",
    "qa": "question/answer pairs",
    "preference": "preference pairs (chosen/rejected)",
}
#: How many example indices a warning keeps; the count is always exact.
MAX_INDICES = 1000


@dataclass
class DataWarning:
    """One kind of problem, with how many examples have it and which ones."""

    code: str
    message: str
    count: int = 0
    indices: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def add(self, index: int | None = None, line: int | None = None) -> None:
        """Count one more occurrence, keeping the first ``MAX_INDICES`` places."""
        self.count += 1
        if index is not None and len(self.indices) < MAX_INDICES:
            self.indices.append(index)
        if line is not None and len(self.lines) < MAX_INDICES:
            self.lines.append(line)

    def describe(self, limit: int = 8) -> str:
        """One line for people: the message, the count and the first places."""
        places, noun = (self.indices, "example") if self.indices else (self.lines, "line")
        if not places:
            return self.message
        shown = ", ".join(str(i) for i in places[:limit])
        more = " ..." if self.count > limit else ""
        return f"{self.message} ({plural(noun, self.count)} {shown}{more})"

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "count": self.count,
            "indices": self.indices,
            "lines": self.lines,
        }


@dataclass
class LengthStats:
    """A length distribution summarised in bounded memory.

    ``histogram`` holds ``(low, high, count)`` buckets whose edges grow
    geometrically, so a million examples cost the same as ten.
    """

    unit: str
    count: int = 0
    total: int = 0
    min: int = 0
    max: int = 0
    mean: float = 0.0
    p50: int = 0
    p90: int = 0
    p99: int = 0
    histogram: list[tuple[int, int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "unit": self.unit,
            "count": self.count,
            "total": self.total,
            "min": self.min,
            "max": self.max,
            "mean": round(self.mean, 2),
            "p50": self.p50,
            "p90": self.p90,
            "p99": self.p99,
            "histogram": [list(b) for b in self.histogram],
        }


@dataclass
class Report:
    """Everything ``inspect`` knows about one data file."""

    path: Path
    format: str
    flavour: str
    separator: str | None
    file_bytes: int
    examples: int
    train: int
    eval: int
    chars: LengthStats
    tokens: LengthStats | None
    warnings: list[DataWarning]
    preview: list[Example]
    max_seq_len: int
    tokens_estimated: bool
    notes: list[str] = field(default_factory=list)
    """How the file was understood, in sentences ("preference data: ... trains on the chosen answers")."""
    suggested_separator: str | None = None
    """A marker line found in a plain-text file read without a separator."""

    def describe_format(self) -> str:
        """How the file was read, in a few words, for the CLI and the TUI alike."""
        if self.flavour == "separator":
            return f"{self.format}, split at {self.separator}"
        if self.flavour == "paragraphs":
            return f"{self.format}, split at blank lines and packed"
        return f"{self.format}, {FLAVOURS.get(self.flavour, self.flavour)}"

    def training_problem(self) -> str | None:
        """What is wrong with training on this file as a whole, when examples would learn nothing."""
        masked = self.warning("no_trained_tokens")
        if masked is None:
            return None
        if masked.count >= self.examples:
            return f"this run would train on no tokens: every example's answer is masked (weight 0) or cut at {self.max_seq_len:,} tokens"
        return (
            f"{counted(masked.count, 'example')} would train on the prompt only: "
            f"the answer is masked or cut at {self.max_seq_len:,} tokens, so nothing is learned from it"
        )

    def warning(self, code: str) -> DataWarning | None:
        """The warning with this code, if the file has it."""
        return next((w for w in self.warnings if w.code == code), None)

    def to_json(self) -> dict[str, object]:
        return {
            "file": str(self.path),
            "format": self.format,
            "flavour": self.flavour,
            "separator": self.separator,
            "file_bytes": self.file_bytes,
            "examples": self.examples,
            "train": self.train,
            "eval": self.eval,
            "max_seq_len": self.max_seq_len,
            "lengths": {
                "chars": self.chars.to_json(),
                "tokens": None if self.tokens is None else self.tokens.to_json(),
                "tokens_estimated": self.tokens_estimated,
            },
            "warnings": [w.to_json() for w in self.warnings],
            "notes": self.notes,
            "suggested_separator": self.suggested_separator,
            "errors": [],
            "preview": [e.to_json() for e in self.preview],
        }
