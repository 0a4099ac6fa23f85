"""A run's page at 80x24: its history replayed, live events in the log and the chart, the scorecard, why it failed."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Static

from engine.runs.events import LogEvent
from tests.fixed_runs import SIZE, T0, events_in, log_lines, loss_at, run_page, runs_listed, step_event, text_of, write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.dialogs import ErrorScreen
from tui.screens.run import RunLog, RunScreen
from tui.screens.runs import RunsScreen, RunTable
from tui.widgets.loss_chart import LossChart, step_ticks
from tui.widgets.scorecard import Scorecard

pytestmark = pytest.mark.usefixtures("tui_env")  # the repository root (paths on screen are relative), UTC (times are local)


@pytest.mark.slow
async def test_enter_opens_the_run_and_replays_its_history() -> None:
    run = write_run("20260101-0900-haiku", "training", steps=30)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await runs_listed(pilot, 1)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.run_id == run.id
        await until(pilot, lambda: len(log_lines(screen)) == events_in(run))
        lines = log_lines(screen)
        assert lines[0] == "09:00:00  status: queued"
        assert lines[-1].startswith("09:01:07  step 30/60  loss ")
        assert "checkpoint saved: checkpoints/checkpoint-20" in "\n".join(lines)
        assert [step for step, _ in screen.query_one(LossChart).points] == list(range(1, 31))
        assert screen.query_one(LossChart).evals == ((0, 2.413),)
        assert text_of(screen, "#run-step") == f"step 30/60 · loss {loss_at(30):.4f} · ETA 1m00s"
        assert "data sample_data/haiku.txt" in text_of(screen, "#run-source")
        assert Scorecard.PENDING in screen.query_one(Scorecard).render().plain
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


@pytest.mark.slow
async def test_new_events_show_live_in_the_log_and_the_chart() -> None:
    run = write_run("20260101-0900-haiku", "training", steps=10)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        for step in range(11, 16):
            run.append(step_event(step, 60, T0 + 7))
        await until(pilot, lambda: len(screen.query_one(LossChart).points) == 15)
        assert log_lines(screen)[-1].startswith("09:00:37  step 15/60  loss ")
        assert len(log_lines(screen)) == events_in(run)
        assert text_of(screen, "#run-step").startswith("step 15/60 ")
        before = len(log_lines(screen))
        with run.events_path.open("ab") as fh:  # a line still being written is left for the next read
            fh.write(b'{"time": 1767258100.0, "kind": "log", "mess')
        written = time.monotonic()
        await until(pilot, lambda: screen.read_at > written)  # the page shows a read begun after the write
        assert len(log_lines(screen)) == before
        with run.events_path.open("ab") as fh:
            fh.write(b'age": "half a line, then the rest"}\n')
        await until(pilot, lambda: log_lines(screen)[-1].endswith("half a line, then the rest"))


@pytest.mark.slow
async def test_the_log_follows_its_end_until_the_user_scrolls_up_and_again_once_back_there() -> None:
    run = write_run("20260101-0900-haiku", "training", steps=10)
    async with FinetuiApp().run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        log = screen.query_one(RunLog)
        await until(pilot, lambda: log.max_scroll_y > 0 and log.is_vertical_scroll_end)
        log.focus()
        await pilot.press("home")
        await until(pilot, lambda: log.scroll_y == 0)
        for step in range(11, 16):
            run.append(step_event(step, 60, T0 + 7))
        await until(pilot, lambda: len(log_lines(screen)) == events_in(run))
        await pilot.pause()
        assert log.scroll_y == 0, "the lines the user scrolled up to stay put"
        await pilot.press("end")
        await until(pilot, lambda: log.is_vertical_scroll_end)
        end = log.max_scroll_y
        for step in range(16, 21):
            run.append(step_event(step, 60, T0 + 8))
        await until(pilot, lambda: len(log_lines(screen)) == events_in(run))
        await until(pilot, lambda: log.max_scroll_y > end and log.is_vertical_scroll_end)  # following again


@pytest.mark.slow
async def test_a_ready_run_shows_its_scorecard() -> None:
    run = write_run("20260101-0900-haiku", "ready", steps=60)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        card = screen.query_one(Scorecard)
        await until(pilot, lambda: card.metrics is not None)
        text = card.render().plain
        assert "token accuracy 31.2% →  63.5% +32 pt" in text
        assert "eval loss      2.413 →  1.021 -1.392" in text
        assert " teacher-forced, 1,234 tokens" in text
        assert "60 steps, 122,880 tokens in 2m00s" in text
        assert "1,024 tok/s · peak 412 MiB · cpu" in text
        assert screen.query_one(LossChart).evals == ((0, 2.413), (60, 1.021))
        assert text_of(screen, "#run-step") == "step 60/60 · done"
        assert not screen.query_one("#run-reason").display


async def test_a_failed_run_shows_why() -> None:
    reason = "out of memory: try a smaller --batch-size or --seq-len, or 4-bit quantization (--quant 4bit)"
    run = write_run("20260101-0900-haiku", "failed", steps=12, reason=reason)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        assert screen.query_one("#run-reason").display
        assert text_of(screen, "#run-reason") == f"Failed: {reason}. r resumes it from its last checkpoint."
        assert str(screen.query_one("#run-state", Static).content) == "Failed"
        assert log_lines(screen)[-1].endswith(f"status: failed ({reason})")


async def test_playground_opens_a_ready_run(monkeypatch: pytest.MonkeyPatch) -> None:
    run = write_run("20260101-0900-haiku", "ready", steps=60)
    opened: list[str | None] = []
    monkeypatch.setattr(FinetuiApp, "open_playground", lambda self, run_id=None: opened.append(run_id))
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await run_page(pilot, run.id)
        await pilot.press("p")
        assert opened == [run.id]


@pytest.mark.slow
async def test_open_run_replaces_the_page_of_another_run() -> None:
    first = write_run("20260101-0900-first", "ready", steps=60)
    second = write_run("20260101-1000-second", "training", steps=3, created=T0 + 3600)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await run_page(pilot, first.id)
        await run_page(pilot, second.id)
        assert [type(s) for s in app.screen_stack] == [RunsScreen, RunScreen]
        assert app.screen.run_id == second.id  # type: ignore[attr-defined]
        await pilot.press("escape")
        table = app.screen.query_one(RunTable)
        await until(pilot, lambda: table.picked() is not None and table.picked().id == second.id)  # type: ignore[union-attr]


@pytest.mark.slow
async def test_quitting_and_reopening_replays_the_log_and_goes_on() -> None:
    run = write_run("20260101-0900-haiku", "training", steps=10)
    async with FinetuiApp().run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        assert len(screen.query_one(LossChart).points) == 10
    for step in range(11, 21):  # the run trains on while the TUI is closed
        run.append(step_event(step, 60, T0 + 7))
    async with FinetuiApp().run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        lines = log_lines(screen)
        assert lines[0] == "09:00:00  status: queued"
        assert sum(line[10:].startswith("step ") for line in lines) == 20
        run.append(step_event(21, 60, T0 + 7))
        await until(pilot, lambda: len(screen.query_one(LossChart).points) == 21)
        assert log_lines(screen)[-1].startswith("09:00:49  step 21/60")


@pytest.mark.slow
async def test_a_long_history_arrives_in_order_over_several_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.run_feed.EVENTS_PER_READ", 7)
    run = write_run("20260101-0900-haiku", "training", steps=40)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        steps = [int(line.split()[2].split("/")[0]) for line in log_lines(screen) if line[10:].startswith("step ")]
        assert steps == list(range(1, 41))
        assert screen.log_offset == run.events_path.stat().st_size


async def test_bad_event_lines_are_skipped_and_the_page_goes_on() -> None:
    run = write_run("20260101-0900-haiku", "ready", steps=3)
    with run.events_path.open("ab") as fh:
        fh.write(b"[1, 2]\n\xff\xfe\n{\"kind\": \"step\"}\n{\"kind\": \"eval\"}\n")
    run.append(LogEvent(time=T0 + 500, message="after the bad lines"))
    run.metrics_path.write_text('{"baseline": ')
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        page = await run_page(pilot, run.id)
        await until(pilot, lambda: any("after the bad lines" in line for line in log_lines(page)))
        assert page.state == "ready" and not isinstance(app.screen, ErrorScreen)
        flagged = [line[10:] for line in log_lines(page) if "unreadable event" in line]
        assert flagged[:2] == ["(unreadable event: [1, 2])", "(unreadable event: \ufffd\ufffd)"]
        assert len(flagged) == 4  # the step and the eval without their figures too


def test_the_chart_ticks_whole_steps() -> None:
    assert step_ticks(1, 1) == [1]
    assert step_ticks(0, 4) == [0, 1, 2, 3, 4]
    ticks = step_ticks(1, 300)
    assert ticks[0] == 1 and ticks[-1] == 300 and len(ticks) <= 5 and all(isinstance(t, int) for t in ticks)
