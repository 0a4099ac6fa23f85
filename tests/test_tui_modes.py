"""Switching to a mode (F3, F4) the first time costs no re-parse of the app's whole stylesheet beyond the screen's own CSS file."""

from __future__ import annotations

import pytest
from textual.css.stylesheet import Stylesheet

from tests.fixed_runs import SIZE
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.playground import PlaygroundScreen
from tui.screens.runs import RunsScreen

pytestmark = pytest.mark.usefixtures("tui_env")


@pytest.mark.parametrize(("key", "screen_type"), [("f3", RunsScreen), ("f4", PlaygroundScreen)])
async def test_a_first_switch_parses_the_stylesheet_once(monkeypatch: pytest.MonkeyPatch, key: str, screen_type: type) -> None:
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
        # One: adding the screen's CSS_PATH. Textual's own check whether a new mode's screen is styled
        # with the current stylesheet would add two more (see FinetuiApp._styled).
        assert len(reparses) == 1
        assert app.screen._css_update_count == app._css_update_count
