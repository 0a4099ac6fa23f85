"""One parser per file layout, each turning numbered lines into raw examples.

Parsers are generators over ``(line_number, text)`` pairs, so they never hold
more than the example being built. They yield ``Raw`` tuples, empty ones
included: deciding what is empty and numbering the examples is done once, in
``formats.iter_examples``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.data.errors import DataError
from engine.data.raw import ParseState, Raw
from engine.data.reader import Progress
from engine.data.records import Normaliser
from engine.words import counted

#: Longest CSV/TSV field accepted (the csv module's default is 128 KB): far above any
#: training example, yet a quote left open, which swallows the rest of the file into
#: one field, is still stopped before it fills memory.
FIELD_LIMIT = 16 * 1024 * 1024
#: Longest line (JSON Lines, CSV) or record (JSON) read whole; past it the file is refused, not loaded.
MAX_LINE_CHARS = 64 * 1024 * 1024
#: Deepest JSON nesting accepted: a record nested thousands deep is an attack, not data.
MAX_JSON_DEPTH = 200
#: Longest piece between separators kept as one example; longer ones are cut, so memory stays bounded.
MAX_PIECE_CHARS = 1_000_000
#: A line longer than this, in text split at paragraphs, is cut into pieces of the target size.
LONG_LINE = 65_536
#: Parquet rows converted at a time.
PARQUET_BATCH = 256

Lines = Iterable[tuple[int, str]]


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
    size = 0
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
            size = size + len(piece) if i == 0 else len(piece)
            if size > MAX_PIECE_CHARS:
                # One piece of megabytes (a file with no separator in it) is cut, so training never holds it whole.
                yield Raw(start or number, "text", text="".join(parts).strip(), issues=("cut_piece",))
                parts, start, size, leading = [], 0, 0, False
    body = "".join(parts).strip()
    if body or not state.separator_found:
        yield Raw(start or 1, "text", text=body)


def _short_lines(lines: Lines, size: int) -> Iterator[tuple[int, str]]:
    """Lines over ``LONG_LINE`` characters cut in pieces of ``size``: a file with no newline still packs into examples."""
    for number, text in lines:
        if len(text) <= max(size, LONG_LINE):
            yield number, text
        else:
            for piece in _cut(text, size):
                yield number, piece


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

    for number, text in _short_lines(lines, target_chars):
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


def _cut(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut after whitespace where there is some."""
    pieces = []
    while len(text) > size:
        at = max(text.rfind(" ", 0, size), text.rfind("\n", 0, size)) + 1
        if at <= size // 2:
            at = size
        pieces.append(text[:at])
        text = text[at:]
    pieces.append(text)
    return pieces


def whole_lines(path: Path, lines: Lines, limit: int = MAX_LINE_CHARS) -> Iterator[tuple[int, str]]:
    """Join the chunks ``reader.iter_lines`` cuts a very long line into, up to ``limit`` characters.

    Structured formats need each line whole; a line past the limit (a file
    with no newline at all) is refused instead of filling memory.
    """
    parts: list[str] = []
    size = 0
    first = 0
    for number, text in lines:
        if not parts:
            first = number
        parts.append(text)
        size += len(text)
        if size > limit:
            raise DataError(path, f"line is longer than {limit // (1024 * 1024)} MB; is this file one record per line?", line=first, code="too_long")
        if text.endswith("\n"):
            yield first, "".join(parts)
            parts, size = [], 0
    if parts:
        yield first, "".join(parts)


#: A ``\\uD800``-``\\uDFFF`` escape in JSON text: possibly a lone surrogate, which is not text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def load_json(path: Path, text: str, line: int) -> object:
    """``json.loads`` whose every failure is a one-line ``DataError`` naming ``line``."""
    text = text.rstrip()  # so an error at the end is placed on the last line, not the one after
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"malformed JSON: {exc.msg} (column {exc.colno})", line=line + exc.lineno - 1, code="malformed_json") from None
    except RecursionError:
        raise DataError(path, "malformed JSON: nested too deeply", line=line, code="malformed_json") from None
    except ValueError as exc:  # an integer of thousands of digits: Python refuses to convert it
        raise DataError(path, f"malformed JSON: {str(exc).split(';')[0]}", line=line, code="malformed_json") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise DataError(path, "holds a lone UTF-16 surrogate escape (like \\ud800), which is not text", line=line, code="encoding") from None
        except RecursionError:
            raise DataError(path, "malformed JSON: nested too deeply", line=line, code="malformed_json") from None
    return value


def _object(path: Path, value: object, line: int) -> dict:
    if not isinstance(value, dict):
        raise DataError(path, f"expected a JSON object, got {json_kind(value)}", line=line, code="malformed_json")
    return value


def json_kind(value: object) -> str:
    """What a JSON value that should have been a record is, in words; a string holding JSON says it was encoded twice."""
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        return "a string that holds JSON (was each record encoded twice, json.dumps of a string?)"
    return _json_type(value)


def jsonl(path: Path, lines: Lines, normalise: Normaliser) -> Iterator[Raw]:
    """One JSON object a line, in any record layout; blank lines are skipped."""
    for number, text in whole_lines(path, lines):
        if text.strip():
            yield normalise(_object(path, load_json(path, text, number), number), number)


_IN_STRING = re.compile(r'["\\]')
_STRUCTURE = re.compile(r'["\[\]{}]')


def json_records(path: Path, lines: Lines, normalise: Normaliser) -> Iterator[Raw]:
    """A ``.json`` file: an array of records, or one or more records one after another.

    Records are cut out of the text by tracking brackets and strings, then
    parsed one at a time, so a 1 GB array streams in the memory of its
    largest record; each record's line is where its ``{`` is. Between the
    records of an array exactly one comma is required, as JSON says: a
    missing one is how two files pasted together, or a record lost its end, show.
    """
    opened = ""  # "array" or "objects" once the first value starts
    closed = False
    after = "["  # in an array, what came last at the top: "[", "," or "}" (a record)
    comma_line = 0
    record_end = 0
    depth = 0
    in_string = False
    escaped = False
    parts: list[str] = []
    size = 0
    start = 0
    for number, text in lines:
        i, n = 0, len(text)
        begin = 0
        while i < n:
            if depth == 0:
                ch = text[i]
                if ch.isspace():
                    i += 1
                    continue
                if ch == "," and opened == "array" and not closed:
                    if after != "}":
                        where = "a comma before the first record" if after == "[" else "two commas in a row"
                        raise DataError(path, f"malformed JSON: {where}", line=number, code="malformed_json")
                    after, comma_line = ",", number
                    i += 1
                    continue
                if closed:
                    raise DataError(path, f"malformed JSON: {ch!r} after the closing ]", line=number, code="malformed_json")
                if not opened and ch == "[":
                    opened = "array"
                    i += 1
                    continue
                if ch == "]" and opened == "array":
                    if after == ",":
                        raise DataError(path, "malformed JSON: a comma after the last record, before the closing ]", line=comma_line, code="malformed_json")
                    closed = True
                    i += 1
                    continue
                if ch != "{":
                    what = "a list" if ch == "[" else f"{ch!r}"
                    raise DataError(path, f"expected a JSON object (a record), got {what}", line=number, code="malformed_json")
                if opened == "array" and after == "}":
                    message = f"malformed JSON: no comma between this record and the one before (which ends on line {record_end})"
                    raise DataError(path, message, line=number, code="malformed_json")
                opened = opened or "objects"
                depth, start, begin, parts, size = 1, number, i, [], 0
                i += 1
                continue
            if escaped:
                escaped = False
                i += 1
                continue
            if in_string:
                m = _IN_STRING.search(text, i)
                if m is None:
                    break
                i = m.end()
                if m.group() == "\\":
                    escaped = True
                else:
                    in_string = False
                continue
            m = _STRUCTURE.search(text, i)
            if m is None:
                break
            i = m.end()
            ch = m.group()
            if ch == '"':
                in_string = True
            elif ch in "[{":
                depth += 1
                if depth > MAX_JSON_DEPTH:
                    raise DataError(path, f"malformed JSON: nested more than {MAX_JSON_DEPTH} levels deep", line=number, code="malformed_json")
            else:
                depth -= 1
                if depth == 0:
                    parts.append(text[begin:i])
                    record = "".join(parts)
                    parts, after, record_end = [], "}", number
                    yield normalise(_object(path, load_json(path, record, start), start), start)
        if depth > 0:
            parts.append(text[begin:])
            size += n - begin
            if size > MAX_LINE_CHARS:
                raise DataError(path, f"a record runs on for more than {MAX_LINE_CHARS // (1024 * 1024)} MB", line=start, code="too_long")
    if depth > 0:
        raise DataError(path, "malformed JSON: the file ends inside the record that starts here", line=start, code="malformed_json")
    if opened == "array" and not closed:
        raise DataError(path, "malformed JSON: the array is never closed (no ])", code="malformed_json")


def _json_type(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def delimited(path: Path, lines: Lines, delimiter: str, normalise: Normaliser) -> Iterator[Raw]:
    """CSV or TSV with a header row naming the columns, in any record layout.

    Column names match case-insensitively. Quoted fields may span lines, and
    line numbers follow the file, not the rows. A row with more cells than
    the header, or a quote never closed, is an error naming its line: the
    csv module would otherwise drop cells or swallow the rest of the file.
    """
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)
    kind = "TSV" if delimiter == "\t" else "CSV"
    cell = "a tab" if delimiter == "\t" else "a comma"
    numbered = iter(whole_lines(path, lines))
    current = [0]

    def feed() -> Iterator[str]:
        for number, text in numbered:
            current[0] = number
            yield text

    reader = csv.reader(feed(), delimiter=delimiter, strict=True)
    last = 0

    def next_row() -> list[str] | None:
        try:
            return next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise DataError(
                    path,
                    f"a field runs on for more than {FIELD_LIMIT // (1024 * 1024)} MB: is a quote left open in the row that starts here?",
                    line=last + 1,
                    code="malformed_csv",
                ) from None
            if "end of data" in str(exc) or "expected after" in str(exc):
                raise DataError(
                    path,
                    f"malformed {kind}: a quote opened in the row that starts here is never closed, or is closed in the middle of a value "
                    f"(at line {current[0]}); a quote inside a quoted value is written twice (\"\")",
                    line=last + 1,
                    code="malformed_csv",
                ) from None
            raise DataError(path, f"malformed {kind} row: {exc}", line=current[0], code="malformed_csv") from None

    header = next_row()
    while header is not None and not any(c.strip() for c in header):  # blank lines before the header row
        header = next_row()
    if header is None:
        raise DataError(path, "file is empty", code="empty")
    last = current[0]
    names = [h.strip().lower() for h in header]
    normalise.check_header(names, last, [h.strip() for h in header])
    while True:
        row = next_row()
        if row is None:
            return
        start, last = last + 1, current[0]
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) > len(names):
            extra = ", ".join(repr(c) for c in row[len(names) :][:3])
            raise DataError(
                path,
                f"the row has {counted(len(row), 'cell')} but the header has {counted(len(names), 'column')} (extra: {extra}); "
                f"quote the values that hold {cell}",
                line=start,
                code="malformed_csv",
            )
        record = dict(zip(names, row, strict=False))
        try:
            yield normalise(record, start)
        except DataError as exc:
            if exc.code == "missing_field" and len(row) < len(names) and exc.field in names:
                message = f"is missing (the row has {counted(len(row), 'cell')}, the header {len(names)})"
                raise DataError(path, message, line=start, field=exc.field, code="missing_field") from None
            raise


def parquet(path: Path, normalise: Normaliser, on_progress: Progress | None = None) -> Iterator[Raw]:
    """A Parquet file, a batch of rows at a time; the ``line`` of an example is its row (from 1)."""
    import pyarrow as pa  # imported here: only Parquet files need it
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
        normalise.check_unique(table.schema_arrow.names, None, "the schema")
        total = table.metadata.num_rows
        row = 0
        for batch in table.iter_batches(batch_size=PARQUET_BATCH):
            for record in batch.to_pylist():
                row += 1
                yield normalise(record, row)
            if on_progress is not None:
                on_progress(row, max(total, 1))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(path, f"not a readable Parquet file: {str(exc).splitlines()[0]}", code="malformed_parquet") from None


def arrow(path: Path, normalise: Normaliser, on_progress: Progress | None = None) -> Iterator[Raw]:
    """An Arrow IPC file or stream (``datasets``' cache and ``save_to_disk`` files), a batch at a time; ``line`` is the row (from 1)."""
    import pyarrow as pa  # imported here: only Arrow files need it

    size = max(path.stat().st_size, 1)
    try:
        with pa.memory_map(str(path)) as source:
            try:
                reader = pa.ipc.open_file(source)
                count, schema = reader.num_record_batches, reader.schema
                batches: Iterator[pa.RecordBatch] = (reader.get_batch(i) for i in range(count))
            except pa.ArrowInvalid:  # not the file format: a stream, as datasets writes
                source.seek(0)
                stream = pa.ipc.open_stream(source)
                count, schema, batches = 0, stream.schema, iter(stream)
            normalise.check_unique(schema.names, None, "the schema")
            row = 0
            for index, batch in enumerate(batches, start=1):
                for record in batch.to_pylist():
                    row += 1
                    yield normalise(record, row)
                if on_progress is not None:
                    on_progress(min(size * index // count if count else source.tell(), size), size)
        if on_progress is not None:
            on_progress(size, size)  # a stream's end marker is past its last batch
    except (pa.ArrowException, OSError) as exc:
        raise DataError(path, f"not a readable Arrow file: {str(exc).splitlines()[0]}", code="malformed_arrow") from None
