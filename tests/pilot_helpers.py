"""Waiting in Pilot tests: for a condition on the app, with a deadline instead of fixed sleeps."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from time import monotonic

from textual.pilot import Pilot

_SVG_TEXT = re.compile(r'<text class="[^"]*" x="(?P<x>[\d.]+)" y="(?P<y>[\d.]+)"[^>]*>(?P<text>.*?)</text>')


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = monotonic() + timeout
    while not condition():
        assert monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.02)


async def settled(pilot: Pilot, timeout: float = 10.0) -> str:
    """Let the app idle until two screenshots 0.1 s apart are the same, and return that screenshot.

    A condition on a widget's state holds before the screen shows it: a
    layout or a footer still to update would otherwise be caught half done
    on a busy machine.
    """
    deadline = monotonic() + timeout
    last = pilot.app.export_screenshot()
    while True:
        await pilot.pause(0.1)
        shot = pilot.app.export_screenshot()
        if shot == last:
            return shot
        assert monotonic() < deadline, "the screen kept changing"
        last = shot


def screen_text(svg: str) -> list[str]:
    """The rows of text in a Textual SVG screenshot, to say in words how two pictures differ."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for match in _SVG_TEXT.finditer(svg):
        rows.setdefault(float(match["y"]), []).append((float(match["x"]), html.unescape(match["text"])))
    return ["".join(text for _, text in sorted(row)) for _, row in sorted(rows.items())]


async def steady_cursors(pilot: Pilot) -> None:
    """Stop every text cursor blinking (each shows, steadily), so a snapshot never catches one mid-blink."""
    for screen in pilot.app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            widget.cursor_blink = False  # type: ignore[attr-defined]
    await pilot.pause()
