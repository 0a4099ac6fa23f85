"""Waiting in tests that drive real worker processes: for a condition, with a deadline and a name for what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from engine.runs import Run
from engine.runs.process import refresh

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], what: str, timeout: float) -> T:
    """``predicate()``'s first true value, polled every 0.1 s; fails the test, naming ``what``, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def final_state(run: Run, timeout: float) -> str:
    """The state a run ends in, once it has left queued and training (the worker's status, refreshed)."""
    return str(wait_for(lambda: (s := refresh(run).state) not in ("queued", "training") and s, f"{run.id} to end", timeout))
