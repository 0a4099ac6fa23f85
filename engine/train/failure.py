"""Why a run failed, as the one line its status gives: errors that already say it in plain words, and the rest worded here.

The run's worker and each rank of a distributed run end a failed run with
``failure_reason(exc)``; neither shows a traceback to the user (it goes to the log).
"""

from __future__ import annotations

import errno

from engine.data import DataError
from engine.errors import FinetuiError


class TrainingFailed(Exception):
    """Training can't go on (a loss that became nan, say); the message is the plain-language reason for the status."""


class RankFailed(Exception):
    """A rank of a distributed run failed; the message names the rank and why, in plain words."""


def failure_reason(exc: BaseException) -> str:
    """A failure as a user should read it; imports nothing heavy, so a run that fails early says why at once."""
    from engine.train.oom import GpuOutOfMemory

    if isinstance(exc, (TrainingFailed, RankFailed, DataError, FinetuiError, GpuOutOfMemory)):
        return str(exc)  # a FinetuiError's hint in the config's terms (Hint.plain): the reason outlives the front end
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return "out of memory: lower train.batch_size or train.seq_len, or set model.quant to '4bit'"
    if _disk_full(exc):
        where = getattr(exc, "filename", None) or "writing checkpoints or the adapter"
        return f"the disk is full ({where}): free some space, then resume the run"
    return f"{type(exc).__name__}: {exc}"


def _disk_full(exc: BaseException) -> bool:
    """An ENOSPC however it arrives: an ``OSError``, or the text of a safetensors or torch writer's error."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return True
        text = str(exc)
        if "No space left on device" in text or "os error 28" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False
