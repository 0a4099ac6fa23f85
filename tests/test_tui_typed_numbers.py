"""Numbers typed into the train screen's fields: every value past a field's bounds is refused in words, never raised."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Values past every bound a field has: each must be shown on its field, never raised.
TYPED = ["1e308", "inf", "-inf", "nan", "1e400", "-1", "99999999999999999999999", "0", "1e-400"]


@pytest.mark.slow  # 12-15 s: nine values in every number field, each applied and checked
async def test_every_typed_number_is_bounded_on_its_field(monkeypatch):
    """Typing 1e308 into Epochs crashed the whole app; every field now refuses out-of-range values in words."""
    from textual.widgets import Button, Input

    from tests.test_tui_train import HAIKU, open_train
    from tui.app import FinetuiApp
    from tui.screens.train import GRID, field_id

    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    app = FinetuiApp(start_path=HAIKU)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_train(pilot)
        for field in [field_id(s) for s in GRID if s.kind in (int, float)]:  # every number field, as engine.config declares them
            box = screen.query_one(f"#{field}", Input)
            kept = box.value
            for value in TYPED:
                box.value = value
                await pilot.pause()
                if screen.config is None:  # refused: said in words, Launch off
                    assert screen.problem and screen.query_one("#launch", Button).disabled
            box.value = kept
            await pilot.pause()
        assert app.is_running and screen.config is not None
