"""The one confirmation dialog: y says yes; n, Escape and a bare Enter (No has the focus) say no."""

from __future__ import annotations

import pytest
from textual.app import App

from tui.screens.dialogs import ConfirmScreen


@pytest.mark.parametrize(("key", "answer"), [("y", True), ("n", False), ("escape", False), ("enter", False)])
async def test_the_confirm_dialog_answers_by_key_and_enter_alone_never_says_yes(key: str, answer: bool) -> None:
    answers: list[bool | None] = []
    app = App(css_path=None)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ConfirmScreen("Delete this run?", "It goes for good.", "Delete it"), answers.append)
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#dialog-no")
        await pilot.press(key)
        await pilot.pause()
        assert answers == [answer] and not isinstance(app.screen, ConfirmScreen)
