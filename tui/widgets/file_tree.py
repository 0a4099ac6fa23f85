"""A directory tree for picking files, without the clutter."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.widgets import DirectoryTree

#: Folders no one picks data from, hidden like dot files.
HIDDEN_NAMES = frozenset({"__pycache__", "node_modules"})


class FileTree(DirectoryTree):
    """A ``DirectoryTree`` that hides dot files and caches, which are never training data."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".") and p.name not in HIDDEN_NAMES]
