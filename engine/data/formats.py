"""Which format a file is in, and the stream of clean examples it holds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.data import parsers
from engine.data.errors import DataError
from engine.data.examples import Example, Kind
from engine.data.names import FILE_FORMATS, FORMATS, SHAPES, data_suffix
from engine.data.raw import ParseState, Raw
from engine.data.reader import Progress, binary_format, check_readable, iter_lines, read_head
from engine.data.records import Normaliser, parse_mapping

EXTENSIONS = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".arrow": "arrow",
}
#: Default size of a packed example when a text file has no separator.
TARGET_CHARS = 2000
#: The start of a JSON array of records, or of a record: ``[{"``, ``{"`` or ``[]``.
_JSON_START = re.compile(r'\s*(\[\s*\{\s*"|\{\s*"|\[\s*\]\s*$)')
#: The start of a JSON array of records, or of an empty one: what says JSON for sure (a record spread over lines may be JSON Lines cut short).
_JSON_ARRAY = re.compile(r'\s*\[\s*(\{\s*"|\]\s*$)')
#: A CSV file's delimiters, in the order tried on its header row.
CSV_DELIMITERS = (",", ";", "|")
#: Column names that make a first line a table header.
_COLUMNS = {"text", "prompt", "completion", "question", "answer", "query", "response", "instruction", "input", "output", "chosen", "rejected", "system"}


@dataclass(frozen=True)
class DataSpec:
    """How to read one data file: what a user picks on the data screen or the command line.

    ``format`` None means detect it; it may name a file format (``txt``,
    ``json``, ...) or a record layout (``alpaca``, ``sharegpt``, ...), whose
    file format is then detected. ``separator`` None (or empty) means split
    plain text at paragraph boundaries and pack paragraphs up to
    ``target_chars``. ``mapping`` names the columns that hold the fields
    finetui reads (``"prompt=question,completion=answer"``).
    """

    path: Path
    format: str | None = None
    separator: str | None = None
    target_chars: int = TARGET_CHARS
    mapping: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.separator == "":
            object.__setattr__(self, "separator", None)
        if self.mapping is not None and not self.mapping.strip():
            object.__setattr__(self, "mapping", None)
        if self.format is not None and self.format not in FORMATS:
            raise DataError(
                self.path, f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}", code="unknown_format"
            )
        parse_mapping(self.path, self.mapping)
        if self.target_chars < 1:
            raise ValueError(f"target_chars must be at least 1, not {self.target_chars}")

    @property
    def shape(self) -> str | None:
        """The record layout the user forced, if any."""
        return self.format if self.format in SHAPES else None


def _first_line(head: str) -> str:
    return next((line for line in head.splitlines() if line.strip()), "")


def _looks_like_jsonl(line: str) -> bool:
    if not line.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def _not_records(first: str) -> str:
    """Why a file that should hold records does not, from its first line."""
    try:
        value = json.loads(first)
    except (ValueError, RecursionError):
        return "the content is neither JSON nor a table with a header row"
    return f"its first line is JSON but {parsers.json_kind(value)}, not an object (a record)"


def _looks_like_json(head: str) -> bool:
    """An array of records, or a record spread over several lines."""
    return _JSON_START.match(head) is not None


def _mapped_columns(spec: DataSpec) -> set[str]:
    return {source.lower() for source in parse_mapping(spec.path, spec.mapping).values()}


def csv_delimiter(spec: DataSpec) -> str:
    """The delimiter of a CSV file's header row: a comma, else a semicolon (Excel's where the comma is the decimal mark) or a bar."""
    first = _first_line(read_head(spec.path))
    mapped = _mapped_columns(spec)
    return next((d for d in CSV_DELIMITERS if _looks_like_table(first, d, mapped)), ",")


def _looks_like_table(line: str, delimiter: str, mapped: set[str]) -> bool:
    names = {name.strip().strip('"').lower() for name in line.split(delimiter)}
    return delimiter in line and bool(names & (_COLUMNS | mapped))


def detect_format(spec: DataSpec) -> str:
    """The file format ``spec`` will be read as: the user's choice, else the content, else the extension.

    Content wins over the extension: Parquet and Arrow by their magic bytes, JSON Lines
    by a first line that is a JSON object, JSON by a leading ``[`` or a
    record spread over lines, a table by a header naming known columns. A
    separator given means plain text. What is left is plain text.

    A column mapping on plain text is refused: it has no columns, and the
    mapping would be ignored while the user believes it applied.
    """
    fmt = _detect(spec)
    if fmt == "txt" and spec.mapping is not None:
        shown = ",".join(part.strip() for part in spec.mapping.split(",") if part.strip())  # as the user wrote it: question=a, not prompt=a
        raise DataError(
            spec.path, f"the map ({shown}) names columns of JSON, CSV or Parquet records, and this file is read as plain text", code="bad_mapping"
        )
    return fmt


#: How an error names each file format.
FORMAT_NAMES = {"txt": "plain text", "jsonl": "JSON Lines", "json": "JSON", "csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "arrow": "Arrow"}
#: Forced formats that read files of another look: JSON reads records one after another (JSON Lines), and anything may be read as text.
_READS_TOO = {("json", "jsonl")}


def _looks(spec: DataSpec) -> str | None:
    """The file format the content alone says, where it says one for sure; None where it is unclear.

    A JSON record spread over lines is unclear (so is JSON Lines whose first
    line is broken), and so is a table whose header names no column finetui
    reads or the map names.
    """
    binary = binary_format(spec.path)
    if binary is not None:
        return binary
    head = read_head(spec.path)
    first = _first_line(head)
    if _looks_like_jsonl(first):
        return "jsonl"
    if _JSON_ARRAY.match(head):
        return "json"
    mapped = _mapped_columns(spec)
    if _looks_like_table(first, "\t", mapped):
        return "tsv"
    if any(_looks_like_table(first, delimiter, mapped) for delimiter in CSV_DELIMITERS):
        return "csv"
    return None


def _check_forced(spec: DataSpec, forced: str) -> None:
    """Refuse a forced file format the content plainly isn't in, saying what it looks like instead.

    Read as the wrong format, a file fails on its first line with a parse
    error ("expected a JSON object", "'text' is missing from the header")
    that never says the format was the problem.
    """
    looks = _looks(spec)
    if forced == "txt" and looks not in ("parquet", "arrow"):
        return
    if forced in ("parquet", "arrow") and looks is None:
        raise DataError(spec.path, f"doesn't look like {FORMAT_NAMES[forced]}: it is text; let finetui detect the format", code="wrong_format")
    if looks is None or looks == forced or (forced, looks) in _READS_TOO:
        return
    raise DataError(
        spec.path,
        f"doesn't look like {FORMAT_NAMES[forced]}: it looks like {FORMAT_NAMES[looks]}; choose {looks}, or let finetui detect the format",
        code="wrong_format",
    )


def _detect(spec: DataSpec) -> str:
    check_readable(spec.path)
    if spec.format in FILE_FORMATS:
        _check_forced(spec, spec.format)
        return spec.format
    binary = binary_format(spec.path)
    if binary is not None:
        return binary
    by_extension = EXTENSIONS.get(data_suffix(spec.path))
    if spec.separator is not None:
        return "txt"
    head = read_head(spec.path)
    first = _first_line(head)
    if _looks_like_jsonl(first):
        return "jsonl"
    if _looks_like_json(head):
        return "json"
    if by_extension in ("csv", "tsv"):
        return by_extension
    mapped = _mapped_columns(spec)
    if _looks_like_table(first, "\t", mapped):
        return "tsv"
    if any(_looks_like_table(first, delimiter, mapped) for delimiter in CSV_DELIMITERS):
        return "csv"
    if spec.shape is not None or by_extension in ("jsonl", "json", "parquet", "arrow"):
        raise DataError(spec.path, f"can't read it as {spec.shape or by_extension}: {_not_records(first)}", line=1, code="unknown_format")
    return "txt"


def parse(spec: DataSpec, state: ParseState, on_progress: Progress | None = None) -> Iterator[Raw]:
    """Raw examples, empty ones included, in file order."""
    fmt = detect_format(spec)
    mapping = parse_mapping(spec.path, spec.mapping)
    if fmt in ("csv", "tsv"):
        mapping = {target: source.lower() for target, source in mapping.items()}
    normalise = Normaliser(spec.path, state, spec.shape, mapping)
    if fmt == "parquet":
        return parsers.parquet(spec.path, normalise, on_progress)
    if fmt == "arrow":
        return parsers.arrow(spec.path, normalise, on_progress)
    lines = iter_lines(spec.path, on_progress)
    if fmt == "txt":
        if spec.separator is not None:
            return parsers.txt_separated(spec.path, lines, spec.separator, state)
        return parsers.txt_paragraphs(spec.path, lines, spec.target_chars, state)
    if fmt == "jsonl":
        return parsers.jsonl(spec.path, lines, normalise)
    if fmt == "json":
        return parsers.json_records(spec.path, lines, normalise)
    return parsers.delimited(spec.path, lines, "\t" if fmt == "tsv" else csv_delimiter(spec), normalise)


#: The report's ``empty`` warning, worded for what the dropped examples lack.
EMPTY_WARNING: dict[Kind, str] = {
    "text": "empty examples (dropped)",
    "prompt_completion": "examples whose answer (the completion) is empty: nothing to learn from (dropped)",
    "messages": "examples whose answer (the assistant's turns) is empty: nothing to learn from (dropped)",
}


def is_empty(raw: Raw) -> bool:
    """Whether an example has nothing to learn from: it is dropped, with a warning."""
    if raw.kind == "text":
        return not raw.text.strip()
    if raw.kind == "prompt_completion":
        return not raw.completion.strip()
    return not any(m.role == "assistant" and (m.content.strip() or m.tool_calls) for m in raw.messages)


def no_examples(path: Path, first_dropped: Raw | None) -> DataError:
    """The error for a file whose every example was dropped, saying why with the first one, so the user knows what to fix."""
    if first_dropped is None:
        return DataError(path, "no examples found", code="no_examples")
    if first_dropped.kind == "text":
        why = "its text is empty"
    elif first_dropped.kind == "prompt_completion":
        why = "its completion is empty"
    elif any(m.role == "assistant" for m in first_dropped.messages):
        why = "its assistant turns are empty"
    else:
        why = "the chat has no assistant turn"
    return DataError(path, f"no examples left: every one has nothing to learn from (line {first_dropped.line}: {why})", code="no_examples")


def to_example(index: int, raw: Raw) -> Example:
    """Number a kept raw example."""
    return Example(index, raw.line, raw.kind, raw.text, raw.prompt, raw.completion, raw.messages, raw.tools)


def iter_examples(spec: DataSpec, on_progress: Progress | None = None) -> Iterator[Example]:
    """Stream the examples that survive cleaning, numbered from 0.

    Lazy: the first examples of a huge file arrive before the rest is read.
    Raises ``DataError`` on bad input, including a file with no examples left.
    """
    index = 0
    first_dropped = None
    for raw in parse(spec, ParseState(), on_progress):
        if is_empty(raw):
            first_dropped = first_dropped or raw
            continue
        yield to_example(index, raw)
        index += 1
    if index == 0:
        raise no_examples(spec.path, first_dropped)
