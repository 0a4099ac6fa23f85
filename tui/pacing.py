"""Pacing for worker threads: post progress a few times a second, not on every item."""

from __future__ import annotations

from time import monotonic


class Pace:
    """True at most once every ``interval`` seconds, so a thread can post without flooding."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last = float("-inf")

    def ready(self) -> bool:
        now = monotonic()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True
