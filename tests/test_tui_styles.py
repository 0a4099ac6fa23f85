"""A screen's first show spares Textual's whole-screen restyle (``FinetuiScreen.on_screen_resume``), and loses nothing by it.

Each test shows a screen for the first time and checks two things: no
restyle of the whole screen came with it, and one done now, by hand, changes
no cell of the picture. Coming back to a screen restyles it as Textual does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.screen import Screen

from tests.fixed_runs import SIZE, run_page, runs_listed, write_run
from tests.pilot_helpers import screen_text, settled, steady_cursors, until
from tests.test_tui_snapshots import FIXTURES, tree_ready
from tests.test_tui_train import HAIKU, open_train
from tui.app import FinetuiApp
from tui.screens.base import FinetuiScreen
from tui.screens.data import DataScreen
from tui.screens.playground import PlaygroundScreen
from tui.screens.runs import RunsScreen

pytestmark = pytest.mark.usefixtures("tui_env")


@pytest.fixture
def restyled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The screens restyled whole, by name, as they are."""
    seen: list[str] = []
    restyle = Screen.update_node_styles

    def spy(self: Screen, animate: bool = True) -> None:
        seen.append(type(self).__name__)
        restyle(self, animate)

    monkeypatch.setattr(Screen, "update_node_styles", spy)
    return seen


async def _data(pilot: Pilot) -> None:
    await tree_ready(pilot)


async def _runs(pilot: Pilot) -> None:
    write_run("20250101-000000-haiku", "ready", steps=60)
    await runs_listed(pilot, 1)


async def _run_page(pilot: Pilot) -> None:
    write_run("20250101-000000-haiku", "failed", steps=20, reason="CUDA out of memory")
    await run_page(pilot, "20250101-000000-haiku")


async def _playground(pilot: Pilot) -> None:
    await pilot.press("f4")
    await until(pilot, lambda: isinstance(pilot.app.screen, PlaygroundScreen))


@pytest.mark.parametrize(
    ("show", "start", "name"),
    [
        (_data, FIXTURES, "DataScreen"),
        (open_train, HAIKU, "TrainScreen"),
        (_runs, None, "RunsScreen"),
        (_run_page, None, "RunScreen"),
        (_playground, None, "PlaygroundScreen"),
    ],
)
@pytest.mark.slow
async def test_a_first_show_restyles_nothing_and_a_restyle_would_change_nothing(
    restyled: list[str], show: Callable[[Pilot], Awaitable[object]], start: Path | None, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda _: None)  # the train screen's estimate, as in its snapshot
    app = FinetuiApp(start_path=start)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot)
        assert type(app.screen).__name__ == name
        await steady_cursors(pilot)  # a blinking cursor would differ between two pictures
        before = await settled(pilot)
        assert name not in restyled, f"{name} was restyled whole on its first show"
        app.screen.update_node_styles(animate=False)
        after = await settled(pilot)
        assert screen_text(after) == screen_text(before)
        assert after == before, f"restyling {name} changed how it looks: its first show missed a style"


async def test_coming_back_to_a_screen_restyles_it(restyled: list[str]) -> None:
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        await tree_ready(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert "DataScreen" not in restyled
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, DataScreen))
        await pilot.pause()
        assert "DataScreen" in restyled  # it was left: Textual's restyle, as before


async def test_a_stylesheet_changed_since_the_widgets_were_made_keeps_the_restyle() -> None:
    app = FinetuiApp(start_path=FIXTURES)
    async with app.run_test(size=SIZE) as pilot:
        await tree_ready(pilot)
        screen = app.screen
        assert isinstance(screen, DataScreen)
        as_made = events.ScreenResume()
        FinetuiScreen.on_screen_resume(screen, as_made)
        assert not as_made.refresh_styles
        app.theme = "textual-light"  # as the palette's "Change theme" does
        await pilot.pause()
        after_a_theme = events.ScreenResume()
        FinetuiScreen.on_screen_resume(screen, after_a_theme)
        assert after_a_theme.refresh_styles
