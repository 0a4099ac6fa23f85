"""The data files a user opened lately, so the data screen can offer them again.

They live in ``home() / "recent.json"``, newest first, at most ``MAX_RECENT``.
Each entry keeps the format and separator it was opened with, so picking it
restores the whole choice. The store is a convenience: a missing or corrupt
file reads as empty instead of failing, and writes replace the file
atomically, so a crash or a second finetui never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine import paths

MAX_RECENT = 10


@dataclass(frozen=True)
class RecentFile:
    """One data file as it was last opened; ``None`` means auto format / no separator."""

    path: Path
    format: str | None = None
    separator: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"path": str(self.path), "format": self.format, "separator": self.separator}

    @classmethod
    def from_json(cls, item: object) -> RecentFile:
        """An entry from its JSON form; ``ValueError`` if it is not one."""
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
            raise ValueError(f"not a recent-file entry: {item!r}")
        fmt, separator = item.get("format"), item.get("separator")
        if not isinstance(fmt, str | None) or not isinstance(separator, str | None):
            raise ValueError(f"not a recent-file entry: {item!r}")
        return cls(Path(item["path"]), fmt, separator)


def store_path() -> Path:
    """Where the list is kept; follows ``FINETUI_HOME``."""
    return paths.home() / "recent.json"


def load() -> list[RecentFile]:
    """The recent files, newest first; entries that don't parse are skipped."""
    try:
        raw = json.loads(store_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(raw, list):
        return []
    entries: list[RecentFile] = []
    for item in raw:
        try:
            entries.append(RecentFile.from_json(item))
        except ValueError:
            continue
    return entries[:MAX_RECENT]


def remember(entry: RecentFile) -> list[RecentFile]:
    """Put ``entry`` first (by absolute path), keep ``MAX_RECENT``, save; returns the new list.

    Raises ``OSError`` if the folder can't be written.
    """
    entry = RecentFile(entry.path.expanduser().resolve(), entry.format, entry.separator)
    entries = [entry, *(e for e in load() if e.path != entry.path)][:MAX_RECENT]
    _write_atomically(store_path(), json.dumps([e.to_json() for e in entries], indent=2))
    return entries


def _write_atomically(target: Path, text: str) -> None:
    """Write a temp file beside ``target`` and rename it over, so readers see old or new."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
