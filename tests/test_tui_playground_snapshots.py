"""How the playground looks at 80x24: a finished greedy generation, and a scored text.

The runs are the tiny model's from ``test_tui_playground`` with fixed ids;
generation is greedy with a fixed seed and the speed on the done line is
pinned, so the pictures are the same on every machine. Update with
``--snapshot-update``.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TabbedContent, TextArea

from tests.test_tui_playground import SIZE, TEXT, PlaygroundApp, generate, home, pick_run, until, world  # noqa: F401
from tui.widgets import playground_output


@pytest.fixture(autouse=True)
def steady_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens per second differ from run to run; the snapshots show a fixed one."""
    monkeypatch.setattr(playground_output, "format_rate", lambda tokens_per_s: "12.3 tokens/s")


def test_generate_tab(snap_compare, world: dict[str, Any], home) -> None:
    """Baseline and custom completions of the same prompt, greedy, side by side, each with its done line."""

    async def run_before(pilot: Pilot) -> None:
        await pick_run(pilot, world["alpha"])
        screen = await generate(pilot, "Question: What is the capital of Ostrevin?\nAnswer:", max_tokens="24", temperature="0", seed="0")
        screen.query_one("#run").focus()

    assert snap_compare(PlaygroundApp(), terminal_size=SIZE, run_before=run_before)


def test_likelihood_tab(snap_compare, world: dict[str, Any], home) -> None:
    """Both models' averages, the change, and each token coloured by its log-probability under each."""

    async def run_before(pilot: Pilot) -> None:
        screen = await pick_run(pilot, world["alpha"])
        screen.query_one(TabbedContent).active = "likelihood"
        await pilot.pause()
        screen.query_one("#context", TextArea).text = "Hamlet:"
        screen.query_one("#score-text", TextArea).text = TEXT
        screen.query_one("#score-text", TextArea).focus()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: screen.busy is None and screen.query_one("#custom-tokens").render().plain != "")
        screen.query_one("#run").focus()

    assert snap_compare(PlaygroundApp(), terminal_size=SIZE, run_before=run_before)
