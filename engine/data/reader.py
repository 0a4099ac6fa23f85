"""Read a data file as clean text lines, one at a time.

This is the only place that touches the raw bytes, so every encoding problem
is caught here, with its line number: unreadable files, binary content, text
that is not UTF-8, a byte-order mark (dropped quietly) and CRLF line endings
(turned into LF quietly). Lines stream, so a 1 GB file costs one line of
memory. A file compressed with gzip, bzip2 or xz (``data.jsonl.gz``, as
datasets are often shipped) is read through the standard library's
decompressor, found by its magic bytes, whatever its name.
"""

from __future__ import annotations

import bz2
import difflib
import gzip
import lzma
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from engine.data.errors import DataError
from engine.data.names import FILE_FORMATS, data_suffix

BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
PARQUET_MAGIC = b"PAR1"
#: The starts of an Arrow IPC file (``ARROW1``) and of an Arrow stream (a continuation marker), which
#: is what ``datasets`` writes (its cache, ``save_to_disk``).
ARROW_MAGICS = (b"ARROW1", b"\xff\xff\xff\xff")
#: Compressions read as they stream: (magic bytes, name, opener of a decompressing file over the raw one).
COMPRESSIONS: tuple[tuple[bytes, str, Callable[[BinaryIO], BinaryIO]], ...] = (
    (b"\x1f\x8b", "gzip", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),
    (b"BZh", "bzip2", lambda raw: bz2.BZ2File(raw, mode="rb")),
    (b"\xfd7zXZ\x00", "xz", lambda raw: lzma.LZMAFile(raw, mode="rb")),
)
#: Binary files people mistake for data files, by their magic bytes: what they are and what to do instead.
NOT_TEXT = (
    (b"\x28\xb5\x2f\xfd", "is compressed with zstd, which finetui does not read: decompress it first (zstd -d)"),
    (b"PK\x03\x04", "is a zip archive (an Excel .xlsx workbook is one too): unzip it, or save the sheet as CSV"),
    (b"%PDF", "is a PDF: extract its text to a .txt file first"),
    (b"SQLite format 3\x00", "is an SQLite database: export the table as CSV or JSON Lines"),
)
#: Errors the decompressors raise on damaged or cut-short data.
DECOMPRESSION_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError)
#: Longest piece of a line handed on at once: a file with no newline still streams.
CHUNK_BYTES = 1 << 20
#: How much of the file is sniffed for NUL bytes before parsing starts.
SNIFF_BYTES = 64 * 1024
#: Entries of a missing file's folder compared with its name, at most: a huge folder costs a bounded look.
NEAR_NAMES_SCANNED = 10_000
#: How often (in bytes read) progress is reported.
PROGRESS_EVERY = 1 << 20

Progress = Callable[[int, int], None]


def check_readable(path: Path) -> int:
    """The file's size in bytes, or a ``DataError`` saying why it can't be used."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise DataError(path, folder_problem(path), code="unreadable")
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or a device would block, or never end: refuse it before opening it.
            raise DataError(path, "not a regular file (a pipe, socket or device); save the data to a file first", code="unreadable")
        size = info.st_size
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except DataError:
        raise
    except FileNotFoundError:
        near = near_name(path)
        raise DataError(path, "no such file" if near is None else f"no such file; did you mean {near}?", code="unreadable") from None
    except OSError as exc:
        raise DataError(path, f"cannot read: {exc.strerror or exc}", code="unreadable") from None
    if head in (b"", BOM):  # read, not st_size: a /proc or /sys file says 0 bytes and holds text
        raise DataError(path, "file is empty", code="empty")
    if _binary_kind(head) is not None:
        return size
    for magic, what in NOT_TEXT:
        if head.startswith(magic):
            raise DataError(path, what, code="binary")
    name = compression(head)
    if name is not None:
        head = _content_head(path)
        if head in (b"", BOM):
            raise DataError(path, f"file is empty once decompressed ({name})", code="empty")
    if head.startswith(UTF16_BOMS) or _looks_utf16(head):
        raise DataError(path, "is UTF-16 text: save it as UTF-8", code="encoding")
    if b"\x00" in head:
        raise DataError(path, "looks like a binary file (it contains NUL bytes), not text", code="binary")
    return size


def near_name(path: Path) -> Path | None:
    """The file next to a missing one whose name is closest to it (``facts.jsonl`` for ``facts.json``), as the user would type it; None if none is close.

    A suffix one letter off, a dash for an underscore: the commonest reason a
    data file isn't found, and one the user fixes at once once it is named.
    """
    try:
        with os.scandir(path.parent) as entries:
            names = [e.name for _, e in zip(range(NEAR_NAMES_SCANNED), entries, strict=False) if not e.name.startswith(".") and e.is_file()]
    except OSError:
        return None
    match = difflib.get_close_matches(path.name, names, n=1, cutoff=0.75)
    return path.with_name(match[0]) if match else None


def folder_problem(path: Path) -> str:
    """Why a folder is not a data file, and which file in it to pass instead when that is clear.

    A ``datasets`` ``save_to_disk`` folder holds its rows in ``.arrow``
    files (a ``DatasetDict`` in one folder a split); a dataset downloaded
    from the Hub often comes as a folder of Parquet or JSON Lines shards.
    """
    try:
        if (path / "dataset_dict.json").is_file():
            splits = sorted((p.name for p in path.iterdir() if (p / "state.json").is_file()), key=lambda name: (name != "train", name))
            example = next(iter(sorted((path / splits[0]).glob("*.arrow"))), None) if splits else None
            where = f", e.g. {splits[0]}/{example.name}" if example is not None else ""
            return f"is a folder: a datasets DatasetDict (splits {', '.join(splits) or 'none'}); pass a split's .arrow file{where}"
        if (path / "state.json").is_file():
            name, files = "datasets save_to_disk folder", sorted(path.glob("*.arrow"))
        else:
            name = "folder"
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and data_suffix(p)[1:] in FILE_FORMATS)
            if len({data_suffix(p) for p in files}) != 1:
                return "is a folder, not a file"  # no data in it, or all sorts: nothing to point at
    except OSError:
        return "is a folder, not a file"
    if not files:
        return "is a folder, not a file"
    if len(files) == 1:
        return f"is a {name}, not a file: pass the data file in it, {files[0].name}"
    return f"is a {name} of {len(files)} data files ({files[0].name}, ...): pass one of them, or join them into one file first"


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with a NUL byte beside every character."""
    sample = head[:4096]
    if len(sample) < 4:
        return False
    evens, odds = sample[0::2], sample[1::2]
    return evens.count(0) > 0.4 * len(evens) or odds.count(0) > 0.4 * len(odds)


def compression(head: bytes) -> str | None:
    """The compression a file's first bytes show, if it is one finetui reads."""
    return next((name for magic, name, _ in COMPRESSIONS if head.startswith(magic)), None)


def open_data(path: Path) -> tuple[BinaryIO, BinaryIO, str | None]:
    """The file opened raw, the stream of its text bytes (the raw file itself, or its decompressor), and the compression.

    The raw file's position is how far the reading has got, for progress.
    """
    raw: BinaryIO = path.open("rb")
    name = compression(raw.read(8))
    raw.seek(0)
    opener = next((open_ for _, known, open_ in COMPRESSIONS if known == name), None)
    return raw, raw if opener is None else opener(raw), name


def _content_head(path: Path, limit: int = SNIFF_BYTES) -> bytes:
    """The first ``limit`` bytes of the file's content (decompressed), or a ``DataError`` if it won't decompress."""
    raw, data, name = open_data(path)
    with raw, data:
        try:
            return data.read(limit)
        except DECOMPRESSION_ERRORS as exc:
            raise DataError(path, f"the {name} data is cut short or damaged: {_reason(exc)}", code="binary") from None


def _reason(exc: BaseException) -> str:
    """A decompressor's complaint in a few words (some give none)."""
    text = str(exc).strip() or type(exc).__name__
    return text[0].lower() + text[1:]


def binary_format(path: Path) -> str | None:
    """``parquet`` or ``arrow`` when the file starts with that format's magic bytes, else None."""
    with path.open("rb") as fh:
        return _binary_kind(fh.read(8))


def _binary_kind(head: bytes) -> str | None:
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    return "arrow" if head.startswith(ARROW_MAGICS) else None


def read_head(path: Path, limit: int = SNIFF_BYTES) -> str:
    """The start of the file (decompressed) as text, for format detection; undecodable bytes are replaced."""
    raw = _content_head(path, limit)
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n")


def iter_lines(path: Path, on_progress: Progress | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` with the newline kept as ``\\n``.

    Raises ``DataError`` naming the line for bytes that are not UTF-8, for a
    NUL byte past the sniffed head, or where compressed data breaks off.
    ``on_progress(done, total)`` comes every megabyte of text, in bytes of
    the file (compressed bytes, for a compressed file).
    """
    total = check_readable(path)
    done = 0
    next_report = PROGRESS_EVERY
    try:
        opened, fh, name = open_data(path)
    except OSError as exc:
        raise DataError(path, f"cannot read: {exc.strerror or exc}", code="unreadable") from None
    with opened, fh:
        number = 0
        carry = b""
        whole = True
        while True:
            try:
                raw = carry + fh.readline(CHUNK_BYTES)
            except DECOMPRESSION_ERRORS as exc:
                if name is None:
                    raise DataError(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}", line=number + 1, code="unreadable") from None
                raise DataError(path, f"the {name} data is cut short or damaged here: {_reason(exc)}", line=number + 1, code="binary") from None
            if not raw:
                break
            carry = b""
            if whole:
                number += 1
            whole = raw.endswith(b"\n")
            if not whole and len(raw) >= CHUNK_BYTES:
                # Cut inside a line: hand on what is complete, keep a split UTF-8 character for the next chunk.
                cut = len(raw)
                while cut > len(raw) - 4 and raw[cut - 1] & 0xC0 == 0x80:
                    cut -= 1
                if raw[cut - 1] >= 0xC0:
                    cut -= 1
                raw, carry = raw[:cut], raw[cut:]
            done += len(raw)
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            if b"\x00" in raw:
                raise DataError(path, "contains a NUL byte: this looks like a binary file", line=number, code="binary")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start]
                raise DataError(
                    path,
                    f"not valid UTF-8 (byte 0x{bad:02x} at column {exc.start + 1}); save the file as UTF-8",
                    line=number,
                    code="encoding",
                ) from None
            if text.endswith("\r\n"):
                text = text[:-2] + "\n"
            yield number, text
            if on_progress is not None and done >= next_report:
                # Every megabyte of text; how far into the file, for a compressed one, is its position.
                on_progress(done if name is None else opened.tell(), total)
                next_report = done + PROGRESS_EVERY
    if on_progress is not None:
        on_progress(total, total)

