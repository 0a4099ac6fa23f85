"""One parser per file layout, each turning numbered lines into raw examples.

Parsers are generators over ``(line_number, text)`` pairs, so they never hold
more than the example being built. They yield ``Raw`` tuples, empty ones
included: deciding what is empty and numbering the examples is done once, in
``formats.iter_examples``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from engine.data.errors import DataError
from engine.data.examples import Kind, Message

ROLES = ("system", "user", "assistant")
#: Longest CSV/TSV field accepted (the csv module's default is 128 KB): far above any
#: training example, yet a quote left open, which swallows the rest of the file into
#: one field, is still stopped before it fills memory.
FIELD_LIMIT = 16 * 1024 * 1024

Lines = Iterable[tuple[int, str]]


class Raw(NamedTuple):
    """An example as parsed, before cleaning: ``line`` is where it starts."""

    line: int
    kind: Kind
    text: str = ""
    prompt: str = ""
    completion: str = ""
    messages: tuple[Message, ...] = ()


@dataclass
class ParseState:
    """What a parser learns about the file as it goes, read by the report."""

    flavour: str = ""
    separator_found: bool = False


def txt_separated(path: Path, lines: Lines, separator: str, state: ParseState) -> Iterator[Raw]:
    """Split text at every occurrence of ``separator``; each piece is one example.

    A blank piece before the first separator or after the last one is the
    file's framing, not an empty example, so it is not reported.
    """
    state.flavour = "separator"
    parts: list[str] = []
    start = 0
    opened = 0  # line of the separator that opened the current piece
    leading = True
    for number, text in lines:
        pieces = text.split(separator) if separator in text else [text]
        for i, piece in enumerate(pieces):
            if i > 0:
                state.separator_found = True
                body = "".join(parts).strip()
                if body or not leading:
                    # An empty piece is placed on the line after the separator that opened it.
                    yield Raw(start or min(opened + 1, number), "text", text=body)
                leading = False
                parts, start, opened = [], 0, number
            if piece.strip() and not start:
                start = number
            parts.append(piece)
    body = "".join(parts).strip()
    if body or not state.separator_found:
        yield Raw(start or 1, "text", text=body)


def txt_paragraphs(path: Path, lines: Lines, target_chars: int, state: ParseState) -> Iterator[Raw]:
    """Split at blank lines, then pack neighbouring paragraphs up to ``target_chars``.

    A paragraph longer than the target is cut at line boundaries, so one
    enormous paragraph (a file with no blank lines) still streams.
    """
    state.flavour = "paragraphs"
    packed: list[str] = []
    packed_chars = 0
    packed_start = 1
    para: list[str] = []
    para_chars = 0
    para_start = 1

    def flush_packed() -> Iterator[Raw]:
        nonlocal packed, packed_chars
        if packed:
            yield Raw(packed_start, "text", text="\n\n".join(packed))
        packed, packed_chars = [], 0

    def add_paragraph(body: str, line: int) -> Iterator[Raw]:
        nonlocal packed_chars, packed_start
        if packed and packed_chars + 2 + len(body) > target_chars:
            yield from flush_packed()
        if not packed:
            packed_start = line
        packed.append(body)
        packed_chars += len(body) + (2 if len(packed) > 1 else 0)

    for number, text in lines:
        if text.strip():
            if not para:
                para_start = number
            if para and para_chars + len(text) > target_chars:
                yield from add_paragraph("".join(para).strip("\n"), para_start)
                para, para_chars, para_start = [], 0, number
            para.append(text)
            para_chars += len(text)
        elif para:
            yield from add_paragraph("".join(para).strip("\n"), para_start)
            para, para_chars = [], 0
    if para:
        yield from add_paragraph("".join(para).strip("\n"), para_start)
    yield from flush_packed()


def _string_field(path: Path, line: int, obj: dict, name: str) -> str:
    if name not in obj:
        raise DataError(path, "is missing", line=line, field=name, code="missing_field")
    value = obj[name]
    if not isinstance(value, str):
        raise DataError(path, f"must be a string, not {_json_type(value)}", line=line, field=name, code="bad_field")
    return value


def _json_type(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _messages(path: Path, line: int, value: object) -> tuple[Message, ...]:
    if not isinstance(value, list):
        raise DataError(path, f"must be a list of turns, not {_json_type(value)}", line=line, field="messages", code="bad_field")
    turns = []
    for i, turn in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(turn, dict):
            raise DataError(path, f"must be an object, not {_json_type(turn)}", line=line, field=where, code="bad_field")
        role = _string_field(path, line, turn, "role") if "role" in turn else None
        if role is None:
            raise DataError(path, "is missing", line=line, field=f"{where}.role", code="missing_field")
        if role not in ROLES:
            raise DataError(path, f"must be one of {', '.join(ROLES)}, not {role!r}", line=line, field=f"{where}.role", code="bad_field")
        if "content" not in turn:
            raise DataError(path, "is missing", line=line, field=f"{where}.content", code="missing_field")
        if not isinstance(turn["content"], str):
            raise DataError(path, f"must be a string, not {_json_type(turn['content'])}", line=line, field=f"{where}.content", code="bad_field")
        turns.append(Message(role, turn["content"]))
    return tuple(turns)


def jsonl(path: Path, lines: Lines, state: ParseState) -> Iterator[Raw]:
    """One JSON object a line; the first object decides the flavour for the whole file.

    Flavours: ``messages`` (chat turns), ``prompt`` + ``completion``, or
    ``text``. Blank lines are skipped.
    """
    for number, text in lines:
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"malformed JSON: {exc.msg} (column {exc.colno})", line=number, code="malformed_json") from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {_json_type(obj)}", line=number, code="malformed_json")
        if not state.flavour:
            if "messages" in obj:
                state.flavour = "messages"
            elif "prompt" in obj or "completion" in obj:
                state.flavour = "prompt_completion"
            elif "text" in obj:
                state.flavour = "text"
            else:
                found = ", ".join(sorted(obj)) or "none"
                raise DataError(
                    path,
                    f"is missing (each line needs 'text', 'prompt' and 'completion', or 'messages'; found: {found})",
                    line=number,
                    field="text",
                    code="missing_field",
                )
        if state.flavour == "messages":
            if "messages" not in obj:
                raise DataError(path, "is missing", line=number, field="messages", code="missing_field")
            yield Raw(number, "messages", messages=_messages(path, number, obj["messages"]))
        elif state.flavour == "prompt_completion":
            prompt = _string_field(path, number, obj, "prompt")
            yield Raw(number, "prompt_completion", prompt=prompt, completion=_string_field(path, number, obj, "completion"))
        else:
            yield Raw(number, "text", text=_string_field(path, number, obj, "text"))


def delimited(path: Path, lines: Lines, delimiter: str, state: ParseState) -> Iterator[Raw]:
    """CSV or TSV with a header row naming ``prompt`` and ``completion``, or ``text``.

    Column names match case-insensitively; other columns are ignored. Quoted
    fields may span lines, and line numbers follow the file, not the rows.
    """
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)
    numbered = iter(lines)
    current = [0]

    def feed() -> Iterator[str]:
        for number, text in numbered:
            current[0] = number
            yield text

    reader = csv.reader(feed(), delimiter=delimiter)
    try:
        header = next(reader)
        while not any(cell.strip() for cell in header):  # blank lines before the header row
            header = next(reader)
    except StopIteration:
        raise DataError(path, "file is empty", code="empty") from None
    except csv.Error as exc:
        raise DataError(path, f"malformed {'TSV' if delimiter == chr(9) else 'CSV'}: {exc}", line=current[0], code="malformed_csv") from None
    header_line = current[0]
    names = [h.strip().lower() for h in header]
    if "prompt" in names or "completion" in names:
        state.flavour = "prompt_completion"
        wanted = ["prompt", "completion"]
    elif "text" in names:
        state.flavour = "text"
        wanted = ["text"]
    else:
        found = ", ".join(h.strip() for h in header) or "none"
        raise DataError(
            path,
            f"is missing from the header row (need a 'text' column, or 'prompt' and 'completion'; found: {found})",
            line=header_line,
            field="text",
            code="missing_field",
        )
    for name in wanted:
        if name not in names:
            raise DataError(path, "is missing from the header row", line=header_line, field=name, code="missing_field")
    columns = [names.index(n) for n in wanted]
    last = current[0]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise DataError(
                    path,
                    f"a field runs on for more than {FIELD_LIMIT // (1024 * 1024)} MB: is a quote left open in the row that starts here?",
                    line=last + 1,
                    code="malformed_csv",
                ) from None
            raise DataError(path, f"malformed row: {exc}", line=current[0], code="malformed_csv") from None
        start = last + 1
        last = current[0]
        if not row or all(not cell.strip() for cell in row):
            continue
        for name, col in zip(wanted, columns):
            if col >= len(row):
                raise DataError(path, "is missing (the row has too few columns)", line=start, field=name, code="missing_field")
        if state.flavour == "text":
            yield Raw(start, "text", text=row[columns[0]])
        else:
            yield Raw(start, "prompt_completion", prompt=row[columns[0]], completion=row[columns[1]])
