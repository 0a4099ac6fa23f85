"""The whole flow on the bundled model, by keyboard only, at 80x24: data → preview → train → run → playground.

Nothing is stood in for: the run trains in its own detached process (the
bundled finetui-tiny, 4-bit, a few steps), and the playground talks to a real
inference process. It takes a minute or two on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static, Tabs

from engine.runs import RunStore
from engine.runs.process import cancel, is_alive
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.playground import PlaygroundScreen
from tui.screens.preview import PreviewScreen
from tui.screens.run import RunScreen
from tui.screens.train import TrainScreen
from tui.widgets.playground_output import OutputPanel

REPO = Path(__file__).resolve().parent.parent
SIZE = (80, 24)
#: Seconds for work that imports torch in another process on a busy 2-core machine.
SLOW = 300.0


pytestmark = [pytest.mark.usefixtures("tui_env"), pytest.mark.slow]  # it trains a run and starts the playground's process


async def tab_to(pilot: Pilot, widget: str | type, limit: int = 30) -> None:
    """Press Tab until the widget with id (or of type) ``widget`` has focus, as a user would."""
    for _ in range(limit):
        focused = pilot.app.focused
        if focused is not None and (focused.id == widget if isinstance(widget, str) else isinstance(focused, widget)):
            return
        await pilot.press("tab")
    raise AssertionError(f"Tab never reached {widget}")


def shown(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_the_whole_flow_by_keyboard_on_the_bundled_model() -> None:
    app = FinetuiApp(start_path=Path("sample_data/haiku.txt"))
    async with app.run_test(size=SIZE) as pilot:
        # data: the file is chosen; type the separator and press Enter
        await until(pilot, lambda: bool(app.screen.query("#separator")))
        await tab_to(pilot, "separator")
        await pilot.press(*"--SEPARATOR--", "enter")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen) and app.screen.report is not None)
        preview = app.screen
        assert preview.report.examples == 235 and not preview.report.warnings
        await until(pilot, lambda: "median" in shown(preview, "#tokens"))

        # train: a short run (6 steps at a higher learning rate), launched with Ctrl+S
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TrainScreen))
        await tab_to(pilot, "max-steps")
        await pilot.press("6")
        await tab_to(pilot, "lr")
        await pilot.press(*"0.002")
        train = app.screen
        await until(pilot, lambda: train.config is not None and train.config.train.max_steps == 6 and train.config.train.lr == 0.002)
        await until(pilot, lambda: "6 steps" in shown(train, "#estimate"))
        await pilot.press("ctrl+s")

        # the run's page: live log and loss chart, then the scorecard
        await until(pilot, lambda: isinstance(app.screen, RunScreen), timeout=30)
        page = app.screen
        run = RunStore().list()[0]
        try:
            await until(pilot, lambda: any("step 3/6" in line for line in page.query_one("#run-log").lines), timeout=SLOW)
            assert page.query_one("#run-chart").points, "the loss chart has points while the run trains"
            await until(pilot, lambda: run.status().state == "ready", timeout=SLOW)
        finally:
            if run.status().state != "ready":
                cancel(run)
        await until(pilot, lambda: "→" in str(page.query_one("#run-scorecard").render()))
        metrics = run.metrics()
        assert metrics is not None
        scorecard = str(page.query_one("#run-scorecard").render())
        assert f"{100 * metrics.baseline.accuracy:.1f}%" in scorecard and f"{100 * metrics.custom.accuracy:.1f}%" in scorecard

        # playground: p opens it on this run; generate, then score a text
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PlaygroundScreen))
        playground = app.screen
        await until(pilot, lambda: shown(playground, "#inference-status").startswith("ready"), timeout=SLOW)
        await tab_to(pilot, "prompt")
        await pilot.press(*"old pond")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: playground.busy is None and all(p.done for p in playground.query(OutputPanel)), timeout=SLOW)
        assert all(p.text for p in playground.query(OutputPanel))
        await tab_to(pilot, Tabs)
        await pilot.press("right")
        await tab_to(pilot, "score-text")
        await pilot.press(*"the frog jumps in")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: playground.busy is None and "change" in shown(playground, "#scores"), timeout=SLOW)
    assert not is_alive(run)
