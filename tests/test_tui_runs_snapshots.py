"""How the runs dashboard and a run's page look at 80x24.

Runs have fixed ids, fixed timestamps in their files and are shown in UTC,
so the pictures are the same on every machine. Update with
``--snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from tests.fixed_runs import SIZE, T0, events_in, run_page, runs_listed, write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.run import RunLog
from tui.widgets.loss_chart import LossChart
from tui.widgets.scorecard import Scorecard

pytestmark = pytest.mark.usefixtures("tui_env")  # the repository root (paths on screen are relative), UTC (times are local)

REASON = "the loss became nan at step 12: training diverged; try a lower learning rate (--lr)"


@pytest.mark.slow
def test_runs_list(snap_compare) -> None:
    """Every state, newest first, the cursor on the newest run."""
    write_run("20260101-0900-haiku", "ready", steps=60)
    write_run("20260101-1000-facts-lr3e-4", "failed", name="facts-lr3e-4", steps=12, created=T0 + 3600, reason=REASON)
    write_run("20260101-1100-facts", "cancelled", name="facts", steps=25, created=T0 + 7200)
    write_run("20260101-1200-shakespeare", "training", name="shakespeare", steps=34, created=T0 + 10800)
    write_run("20260101-1300-haiku-long", "queued", name="haiku-long", created=T0 + 14400)

    async def run_before(pilot: Pilot) -> None:
        await runs_listed(pilot, 5)

    assert snap_compare(FinetuiApp(), terminal_size=SIZE, run_before=run_before)


def _page(run_id: str, events: int):
    async def run_before(pilot: Pilot) -> None:
        screen = await run_page(pilot, run_id, events)
        await until(pilot, lambda: bool(screen.query_one(LossChart).points))
        await until(pilot, lambda: screen.query_one(RunLog).is_vertical_scroll_end)

    return run_before


@pytest.mark.slow
def test_training_run_page(snap_compare) -> None:
    """Progress, ETA and the loss curve so far; the scorecard still to come; the log at its end."""
    run = write_run("20260101-1200-shakespeare", "training", name="shakespeare", steps=34)
    assert snap_compare(FinetuiApp(), terminal_size=SIZE, run_before=_page(run.id, events_in(run)))


@pytest.mark.slow
def test_ready_run_page(snap_compare) -> None:
    """The scorecard, green where the custom model beats the baseline, and both evals on the chart."""
    run = write_run("20260101-0900-haiku", "ready", steps=60)

    async def run_before(pilot: Pilot) -> None:
        await _page(run.id, events_in(run))(pilot)
        await until(pilot, lambda: pilot.app.screen.query_one(Scorecard).metrics is not None)

    assert snap_compare(FinetuiApp(), terminal_size=SIZE, run_before=run_before)


@pytest.mark.slow
def test_failed_run_page(snap_compare) -> None:
    """The reason, in plain words, above the curve that led to it."""
    run = write_run("20260101-1000-facts-lr3e-4", "failed", name="facts-lr3e-4", steps=12, reason=REASON)
    assert snap_compare(FinetuiApp(), terminal_size=SIZE, run_before=_page(run.id, events_in(run)))



@pytest.mark.slow
def test_confirm_cancel_dialog(snap_compare) -> None:
    """c on a training run asks first, with No focused."""
    run = write_run("20260101-1200-shakespeare", "training", name="shakespeare", steps=34)

    async def run_before(pilot: Pilot) -> None:
        await _page(run.id, events_in(run))(pilot)
        await pilot.press("c")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ConfirmScreen")

    assert snap_compare(FinetuiApp(), terminal_size=SIZE, run_before=run_before)


@pytest.mark.slow
def test_refusal_dialog(snap_compare) -> None:
    """r on a ready run: an error dialog that says why, not a traceback."""
    run = write_run("20260101-0900-haiku", "ready", steps=60)

    async def run_before(pilot: Pilot) -> None:
        await _page(run.id, events_in(run))(pilot)
        await pilot.press("r")
        await until(pilot, lambda: type(pilot.app.screen).__name__ == "ErrorScreen")

    assert snap_compare(FinetuiApp(), terminal_size=SIZE, run_before=run_before)
