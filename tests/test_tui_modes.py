"""Showing a screen the first time (F3, F4, F1) re-parses none of the app's stylesheet: only the screen's own CSS is parsed."""

from __future__ import annotations

import pytest
from textual.color import Color
from textual.css.stylesheet import Stylesheet

from tests.fixed_runs import SIZE
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.data import DataScreen
from tui.screens.help import HelpScreen
from tui.screens.playground import PlaygroundScreen
from tui.screens.runs import RunsScreen

pytestmark = pytest.mark.usefixtures("tui_env")


@pytest.mark.slow
@pytest.mark.parametrize(("key", "screen_type"), [("f3", RunsScreen), ("f4", PlaygroundScreen), ("f1", HelpScreen)])
async def test_a_screen_shown_the_first_time_reparses_nothing(monkeypatch: pytest.MonkeyPatch, key: str, screen_type: type) -> None:
    reparses: list[str] = []
    reparse = Stylesheet.reparse

    def counted(self: Stylesheet) -> None:
        reparses.append(type(self).__name__)
        reparse(self)

    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        monkeypatch.setattr(Stylesheet, "reparse", counted)
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, screen_type))
        await pilot.pause()
        # A CSS_PATH would add one (see tui.screens.base.screen_css); Textual's check whether
        # a new mode's screen is styled with the current stylesheet two more (FinetuiApp._styled).
        assert reparses == []
        if screen_type is HelpScreen:
            assert app.screen.styles.align_horizontal == "center"  # help.tcss is in force


async def test_coming_back_to_the_data_screen_reparses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    reparses: list[None] = []
    reparse = Stylesheet.reparse
    monkeypatch.setattr(Stylesheet, "reparse", lambda self: (reparses.append(None), reparse(self))[1])
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        reparses.clear()  # whatever starting the app took
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, DataScreen))
        await pilot.pause()
        assert reparses == []


async def test_a_theme_chosen_before_a_first_switch_reaches_the_new_screen() -> None:
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.theme = "textual-light"  # as the palette's "Change theme" does
        await pilot.pause()
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.pause()
        assert app.screen.styles.background == Color.parse(app.current_theme.background) == Color.parse("#E0E0E0")
