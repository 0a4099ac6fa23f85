"""Waiting in Pilot tests: for a condition on the app, with a deadline instead of fixed sleeps."""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic

from textual.pilot import Pilot


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = monotonic() + timeout
    while not condition():
        assert monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.02)
