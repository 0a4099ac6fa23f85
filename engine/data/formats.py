"""Which format a file is in, and the stream of clean examples it holds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.data import parsers
from engine.data.errors import DataError
from engine.data.examples import Example
from engine.data.parsers import ParseState, Raw
from engine.data.reader import Progress, check_readable, iter_lines, read_head

FORMATS = ("txt", "jsonl", "csv", "tsv")
EXTENSIONS = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
}
#: Default size of a packed example when a text file has no separator.
TARGET_CHARS = 2000


@dataclass(frozen=True)
class DataSpec:
    """How to read one data file: what a user picks on the data screen or the command line.

    ``format`` None means detect it; ``separator`` None (or empty) means split
    plain text at paragraph boundaries and pack paragraphs up to
    ``target_chars``.
    """

    path: Path
    format: str | None = None
    separator: str | None = None
    target_chars: int = TARGET_CHARS

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.separator == "":
            object.__setattr__(self, "separator", None)
        if self.format is not None and self.format not in FORMATS:
            raise DataError(
                self.path, f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}", code="unknown_format"
            )
        if self.target_chars < 1:
            raise ValueError(f"target_chars must be at least 1, not {self.target_chars}")


def _first_line(head: str) -> str:
    return next((line for line in head.splitlines() if line.strip()), "")


def _looks_like_jsonl(line: str) -> bool:
    if not line.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _looks_like_table(line: str, delimiter: str) -> bool:
    names = {name.strip().strip('"').lower() for name in line.split(delimiter)}
    return delimiter in line and ("text" in names or {"prompt", "completion"} <= names)


def detect_format(spec: DataSpec) -> str:
    """The format ``spec`` will be read as: the user's choice, else the extension and content.

    A ``.txt`` whose first line is a JSON object is read as JSON lines. A
    file with an unknown extension is plain text when a separator is given,
    else recognised by its first line, or rejected with a hint to pass
    ``--format``.
    """
    check_readable(spec.path)
    if spec.format is not None:
        return spec.format
    by_extension = EXTENSIONS.get(spec.path.suffix.lower())
    if by_extension in ("jsonl", "csv", "tsv"):
        return by_extension
    first = _first_line(read_head(spec.path))
    if spec.separator is None and _looks_like_jsonl(first):
        return "jsonl"
    if by_extension == "txt" or spec.separator is not None:
        return "txt"
    if _looks_like_table(first, "\t"):
        return "tsv"
    if _looks_like_table(first, ","):
        return "csv"
    suffix = spec.path.suffix or "(none)"
    raise DataError(
        spec.path,
        f"unknown format: can't tell from the extension {suffix} or the content; pass --format {'|'.join(FORMATS)}",
        code="unknown_format",
    )


def parse(spec: DataSpec, state: ParseState, on_progress: Progress | None = None) -> Iterator[Raw]:
    """Raw examples, empty ones included, in file order."""
    fmt = detect_format(spec)
    lines = iter_lines(spec.path, on_progress)
    if fmt == "txt":
        if spec.separator is not None:
            return parsers.txt_separated(spec.path, lines, spec.separator, state)
        return parsers.txt_paragraphs(spec.path, lines, spec.target_chars, state)
    if fmt == "jsonl":
        return parsers.jsonl(spec.path, lines, state)
    return parsers.delimited(spec.path, lines, "\t" if fmt == "tsv" else ",", state)


def is_empty(raw: Raw) -> bool:
    """Whether an example has nothing to learn from: it is dropped, with a warning."""
    if raw.kind == "text":
        return not raw.text.strip()
    if raw.kind == "prompt_completion":
        return not raw.completion.strip()
    return not any(m.role == "assistant" and m.content.strip() for m in raw.messages)


def to_example(index: int, raw: Raw) -> Example:
    """Number a kept raw example."""
    return Example(index, raw.line, raw.kind, raw.text, raw.prompt, raw.completion, raw.messages)


def iter_examples(spec: DataSpec, on_progress: Progress | None = None) -> Iterator[Example]:
    """Stream the examples that survive cleaning, numbered from 0.

    Lazy: the first examples of a huge file arrive before the rest is read.
    Raises ``DataError`` on bad input, including a file with no examples left.
    """
    index = 0
    for raw in parse(spec, ParseState(), on_progress):
        if is_empty(raw):
            continue
        yield to_example(index, raw)
        index += 1
    if index == 0:
        raise DataError(spec.path, "no examples left after dropping empty ones", code="no_examples")
