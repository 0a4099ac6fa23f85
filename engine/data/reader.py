"""Read a data file as clean text lines, one at a time.

This is the only place that touches the raw bytes, so every encoding problem
is caught here, with its line number: unreadable files, binary content, text
that is not UTF-8, a byte-order mark (dropped quietly) and CRLF line endings
(turned into LF quietly). Lines stream, so a 1 GB file costs one line of
memory.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.data.errors import DataError

BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
PARQUET_MAGIC = b"PAR1"
#: Longest piece of a line handed on at once: a file with no newline still streams.
CHUNK_BYTES = 1 << 20
#: How much of the file is sniffed for NUL bytes before parsing starts.
SNIFF_BYTES = 64 * 1024
#: How often (in bytes read) progress is reported.
PROGRESS_EVERY = 1 << 20

Progress = Callable[[int, int], None]


def check_readable(path: Path) -> int:
    """The file's size in bytes, or a ``DataError`` saying why it can't be used."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise DataError(path, "is a folder, not a file", code="unreadable")
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or a device would block, or never end: refuse it before opening it.
            raise DataError(path, "not a regular file (a pipe, socket or device); save the data to a file first", code="unreadable")
        size = info.st_size
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(path, "no such file", code="unreadable") from None
    except OSError as exc:
        raise DataError(path, f"cannot read: {exc.strerror or exc}", code="unreadable") from None
    if size == 0 or head in (b"", BOM):
        raise DataError(path, "file is empty", code="empty")
    if head.startswith(PARQUET_MAGIC):
        return size
    if head.startswith(UTF16_BOMS) or _looks_utf16(head):
        raise DataError(path, "is UTF-16 text: save it as UTF-8", code="encoding")
    if b"\x00" in head:
        raise DataError(path, "looks like a binary file (it contains NUL bytes), not text", code="binary")
    return size


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with a NUL byte beside every character."""
    sample = head[:4096]
    if len(sample) < 4:
        return False
    evens, odds = sample[0::2], sample[1::2]
    return evens.count(0) > 0.4 * len(evens) or odds.count(0) > 0.4 * len(odds)


def is_parquet(path: Path) -> bool:
    """Whether the file starts with Parquet's magic bytes."""
    with path.open("rb") as fh:
        return fh.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def read_head(path: Path, limit: int = SNIFF_BYTES) -> str:
    """The start of the file as text, for format detection; undecodable bytes are replaced."""
    with path.open("rb") as fh:
        raw = fh.read(limit)
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n")


def iter_lines(path: Path, on_progress: Progress | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` with the newline kept as ``\\n``.

    Raises ``DataError`` naming the line for bytes that are not UTF-8 or for a
    NUL byte past the sniffed head.
    """
    total = check_readable(path)
    done = 0
    next_report = PROGRESS_EVERY
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise DataError(path, f"cannot read: {exc.strerror or exc}", code="unreadable") from None
    with fh:
        number = 0
        carry = b""
        whole = True
        while True:
            raw = carry + fh.readline(CHUNK_BYTES)
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
                on_progress(done, total)
                next_report = done + PROGRESS_EVERY
    if on_progress is not None:
        on_progress(total, total)

