"""An earlier commit of this repository, checked out beside it for a bench to compare with."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def checkout(commit: str, where: Path) -> Iterator[Path]:
    """``commit`` in a temporary ``git worktree`` at ``where``, removed on the way out; exits 2 when git cannot make it."""
    try:
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(where), commit], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"error: cannot check out {commit} beside this checkout ({exc}); is git installed and is this a clone?", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        yield where
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(where)], capture_output=True)
