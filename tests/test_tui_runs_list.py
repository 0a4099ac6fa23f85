"""The runs dashboard at 80x24: every state newest first, the cursor, refusals, deleting, and broken run folders."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from engine.runs import RunStore
from tests.fixed_runs import SIZE, T0, run_page, runs_listed, text_of, write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.dialogs import ConfirmScreen, ErrorScreen
from tui.screens.runs import EMPTY, RunsScreen, RunTable

pytestmark = pytest.mark.usefixtures("tui_env")  # the repository root (paths on screen are relative), UTC (times are local)


async def test_the_list_shows_every_state_newest_first() -> None:
    for n, state in enumerate(("ready", "failed", "cancelled", "training", "queued")):
        write_run(f"2026010{n + 1}-0900-{state}", state, steps=10, created=T0 + 3600 * n, reason="boom" if state == "failed" else None)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await runs_listed(pilot, 5)
        table = screen.query_one(RunTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert [row[:2] for row in rows] == [
            ["20260105-0900-queued", "Queued"],
            ["20260104-0900-training", "Training"],
            ["20260103-0900-cancelled", "Cancelled"],
            ["20260102-0900-failed", "Failed"],
            ["20260101-0900-ready", "Ready"],
        ]
        assert rows[1][2:] == ["17%", "1m40s", "finetui-tiny", "01-01 12:00"]
        assert rows[4][2:4] == ["100%", "-"]
        assert text_of(screen, "#runs-note") == "5 runs: 1 queued, 1 training, 1 ready, 1 failed, 1 cancelled · Enter opens one"


async def test_no_runs_says_how_to_start_one() -> None:
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and text_of(app.screen, "#runs-note") == EMPTY)
        assert not app.screen.query_one(RunTable).display


async def test_the_cursor_stays_on_its_run_when_a_new_run_appears() -> None:
    write_run("20260101-0900-a", "ready", steps=60)
    write_run("20260101-1000-b", "failed", steps=5, created=T0 + 3600)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await runs_listed(pilot, 2)
        await pilot.press("down")
        table = screen.query_one(RunTable)
        assert table.picked().id == "20260101-0900-a"  # type: ignore[union-attr]
        write_run("20260101-1100-c", "queued", created=T0 + 7200)
        await until(pilot, lambda: len(table.shown) == 3)
        assert table.picked().id == "20260101-0900-a"  # type: ignore[union-attr]
        assert table.cursor_row == 2


@pytest.mark.parametrize(
    ("state", "key", "title"),
    [("ready", "c", "Nothing to cancel"), ("training", "r", "Can't resume"), ("failed", "p", "Not ready"), ("training", "d", "Can't delete")],
)
@pytest.mark.slow
async def test_actions_that_do_not_fit_the_state_are_refused_with_a_dialog(state: str, key: str, title: str) -> None:
    run = write_run("20260101-0900-haiku", state, steps=5)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await runs_listed(pilot, 1)
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert app.screen.title_text == title  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)
        assert run.status().state == state


@pytest.mark.slow
async def test_delete_asks_first_then_removes_the_run() -> None:
    keep = write_run("20260101-0900-keep", "ready", steps=60)
    gone = write_run("20260101-1000-gone", "cancelled", steps=3, created=T0 + 3600)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await runs_listed(pilot, 2)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen)
        assert gone.dir.exists()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: list(screen.query_one(RunTable).shown) == [keep.id])
        assert not gone.dir.exists()


@pytest.mark.slow
async def test_a_broken_run_shows_as_broken_with_its_reason_and_the_others_stay_listed() -> None:
    good = write_run("20260101-0900-good", "ready", steps=4)
    bad = write_run("20260102-0900-bad", "ready", steps=4)
    bad.status_path.write_text("")
    (RunStore().root / "stray").mkdir()
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await runs_listed(pilot, 3)
        table = screen.query_one(RunTable)
        states = {row.id: row.state for row in table.shown.values()}
        assert states == {good.id: "ready", bad.id: "broken", "stray": "broken"}
        page = await run_page(pilot, bad.id)
        await until(pilot, lambda: page.query_one("#run-reason", Static).display)
        assert "status.json is empty" in text_of(page, "#run-reason")
    assert bad.status_path.read_text() == ""  # the TUI read it; it did not "repair" it


@pytest.mark.slow
async def test_the_app_starts_over_a_runs_folder_full_of_broken_runs() -> None:
    """Bare ``finetui`` read every status at start and crashed on the first bad one."""
    for n, content in enumerate(["", "[1]", '{"state": "training"}', "\xff"]):
        run = write_run(f"2026010{n + 1}-0900-broken", "training", steps=1)
        run.status_path.write_text(content)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await runs_listed(pilot, 4)
        assert {row.state for row in screen.query_one(RunTable).shown.values()} == {"broken"}
    assert app.return_code in (None, 0)


async def test_a_broken_run_can_be_deleted_from_the_list() -> None:
    good = write_run("20260101-0900-good", "ready", steps=4)
    bad = write_run("20260102-0900-bad", "ready", steps=4)
    bad.config_path.write_text("{")
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await runs_listed(pilot, 2)
        table = screen.query_one(RunTable)
        assert table.picked() is not None and table.picked().id == bad.id  # newest first
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: list(table.shown) == [good.id])
    assert not bad.dir.exists() and good.dir.is_dir()
