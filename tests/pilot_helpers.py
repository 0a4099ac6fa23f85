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


async def steady_cursors(pilot: Pilot) -> None:
    """Stop every text cursor blinking (each shows, steadily), so a snapshot never catches one mid-blink."""
    for screen in pilot.app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]
    await pilot.pause()
