"""Small file helpers that keep files whole whatever happens mid-write (a run's files above all), and file locks."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temp file in the same folder, fsync it, then rename over ``path``.

    A reader sees the old file or the new one, never half of one, even if the
    writer is killed or the disk fills up. NaN and infinity are refused
    (``ValueError``): strict JSON readers reject them.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line with a single ``write`` on an O_APPEND file.

    Lines from one writer never interleave, and a reader following the file
    only ever sees whole lines or a trailing partial one it can skip.
    """
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def iter_lines(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset_after, line)`` for each whole line from byte ``start`` on.

    A trailing line without its newline is being written: it is left for the
    next call, which resumes at the last offset yielded. A missing file (or
    one that is not a file) has no lines.
    """
    try:
        fh = path.open("rb")
    except OSError:
        return
    with fh:
        fh.seek(start)
        offset = start
        for raw in fh:
            if not raw.endswith(b"\n"):
                return
            offset += len(raw)
            yield offset, raw


def last_jsonl(path: Path, kinds: set[str], window: int = 64 * 1024) -> dict[str, Any] | None:
    """The last record whose ``kind`` is in ``kinds``, reading only the file's tail."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            fh.seek(max(0, size - window))
            lines = fh.read().split(b"\n")
    except OSError:
        return None
    for raw in reversed(lines):
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("kind") in kinds:
            return record
    return None


@contextmanager
def locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an ``flock`` on ``path`` (created if missing) for the block; the kernel drops it if the holder dies."""
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield


@contextmanager
def locked_folder(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the folder itself for the block.

    Needs no file of its own, so it works on a full or read-only disk (the
    writes that follow fail with their own clear error), and it stays with
    the folder when the folder is renamed.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def holding(path: Path) -> Iterator[bool]:
    """Try for a while to hold an exclusive ``flock`` on ``path``; yields whether it was taken.

    A reader probing the lock (``held_by_someone``) holds it shared for a
    moment, so a few tries over ``HOLD_TRIES_S`` tell a probe from an owner.
    """
    with path.open("a") as fh:
        deadline = time.monotonic() + HOLD_TRIES_S
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.01)
        yield True


#: How long ``holding`` keeps trying a lock that a reader may be probing.
HOLD_TRIES_S = 2.0


def held_by_someone(path: Path) -> bool:
    """Whether a live process holds an exclusive ``flock`` on ``path``; opens it read-only, never creates it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no lock file: no worker ever held it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return False
