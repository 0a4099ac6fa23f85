"""The run page's Export action: the dialog at 80x24, and an export run through its engine process."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Select, Static

from tests.fixed_runs import SIZE, events_in, run_page, write_run
from tests.pilot_helpers import until
from tests.tiny_model import make_adapter, make_model
from tui.app import FinetuiApp
from tui.screens.dialogs import ErrorScreen
from tui.screens.export import ExportScreen

pytestmark = pytest.mark.usefixtures("tui_env")


def _export_dialog(run_id: str, events: int):
    async def run_before(pilot: Pilot) -> None:
        await run_page(pilot, run_id, events)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(pilot.app.screen, ExportScreen))

    return run_before


@pytest.mark.slow
def test_export_dialog(snap_compare) -> None:
    """What to export, its dtype or GGUF type, the folder, replace and check; the status line; the buttons."""
    run = write_run("20260101-0900-haiku", "ready", steps=60)
    assert snap_compare(FinetuiApp(), terminal_size=SIZE, run_before=_export_dialog(run.id, events_in(run)))


@pytest.mark.slow
async def test_export_of_a_run_that_is_not_ready_says_so() -> None:
    run = write_run("20260101-1100-facts", "cancelled", name="facts", steps=25)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await run_page(pilot, run.id, events_in(run))
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert "only a Ready run can be exported" in app.screen.message


@pytest.mark.slow
async def test_export_runs_in_its_own_process_and_shows_the_path(finetui_home, tmp_path) -> None:
    """An adapter export of a Ready run, launched from the dialog: its steps, then the folder it wrote."""
    run = write_run("20260101-0900-haiku", "ready", steps=60)
    make_adapter(make_model(tmp_path / "tiny"), run.adapter_dir, seed=1)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await run_page(pilot, run.id, events_in(run))
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        screen = app.screen
        screen.query_one("#export-target", Select).value = "adapter"
        await pilot.press("ctrl+s")
        status = screen.query_one("#export-status", Static)
        await until(pilot, lambda: str(status.content).startswith(("Exported to", "Failed")), timeout=180)
        out = finetui_home / "exports" / f"{run.id}-adapter"
        assert str(status.content).startswith(f"Exported to {out}"), status.content
        assert "round-trip check: PASSED" in str(status.content)
        assert (out / "adapter_config.json").is_file() and (out / "README.md").is_file()
        await pilot.press("ctrl+s")  # again, without "replace": the dialog says so in its own terms
        await until(pilot, lambda: str(status.content).startswith("Failed"), timeout=120)
        assert str(status.content) == f"Failed: {out} exists; tick “replace the folder if it exists”, or give another folder"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ExportScreen))
