"""The runs dashboard and a run's page, driven by keys at 80x24 over run folders built with the engine API."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from engine.config import DataConfig, RunConfig, TrainConfig
from engine.runs import Run, RunStore, Status
from engine.runs.events import (
    CheckpointEvent,
    EvalEvent,
    EvalFigures,
    LogEvent,
    StatusEvent,
    StepEvent,
    TrainFigures,
)
from engine.runs.events import (
    Scorecard as RunScorecard,
)
from engine.runs.files import write_json_atomic
from engine.runs.process import cancel
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.dialogs import ErrorScreen
from tui.screens.run import ConfirmScreen, RunLog, RunScreen
from tui.screens.runs import EMPTY, RunsScreen, RunTable
from tui.widgets.loss_chart import LossChart, label, resample, value_range
from tui.widgets.scorecard import Scorecard

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "sample_data" / "haiku.txt"
SIZE = (80, 24)
#: 2026-01-01 09:00 UTC: every run is created around then, so times on screen never vary.
T0 = 1_767_258_000.0


@pytest.fixture(autouse=True)
def tui_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run from the repository root (paths on screen are relative), in UTC (times on screen are local)."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def loss_at(step: int) -> float:
    """A plausible, deterministic train loss curve: fast drop, then a slow one, with a little noise."""
    return round(0.9 + 1.8 * math.exp(-step / 12) + 0.06 * math.sin(step * 1.7), 4)


def step_event(step: int, max_steps: int, start: float) -> StepEvent:
    """A ``step`` event as ``EventsCallback.on_log`` writes it, two seconds a step."""
    elapsed = 2.0 * step
    return StepEvent(
        time=start + elapsed,
        step=step,
        max_steps=max_steps,
        epoch=step / 20,
        loss=loss_at(step),
        lr=2e-4 * (1 - step / max_steps),
        grad_norm=0.8,
        tokens_per_s=1024.0,
        tokens_seen=2048 * step,
        progress=step / max_steps,
        elapsed_s=elapsed,
        eta_s=2.0 * (max_steps - step),
    )


BASELINE = EvalFigures(loss=2.413, accuracy=0.312, tokens=1234)
CUSTOM = EvalFigures(loss=1.021, accuracy=0.635, tokens=1234)
METRICS = RunScorecard(
    baseline=BASELINE,
    custom=CUSTOM,
    train=TrainFigures(
        loss_curve=tuple((s, loss_at(s)) for s in range(1, 61)),
        steps=60,
        tokens=122880,
        wall_time_s=150.0,
        train_time_s=120.0,
        tokens_per_s=1024.0,
        peak_memory_bytes=412 * 2**20,
        device="cpu",
        train_examples=13,
        eval_examples=1,
    ),
)


def write_run(
    run_id: str,
    state: str,
    *,
    name: str = "haiku",
    steps: int = 0,
    max_steps: int = 60,
    created: float = T0,
    reason: str | None = None,
    data: Path = DATA,
    pid: int | None = None,
) -> Run:
    """A run folder named ``run_id`` in ``state``, its files as the training process leaves them.

    ``RunStore.create`` writes the config and the queued status; the folder
    is then renamed to a fixed id, and the status and events are rewritten
    with fixed times. Active runs get a fresh ``updated_at`` and no pid, so
    ``refresh`` gives them their start-up grace instead of calling them dead.
    """
    store = RunStore()
    config = RunConfig(name=name, data=DataConfig(path=str(data), separator="--SEPARATOR--"), train=TrainConfig(max_steps=max_steps))
    created_run = store.create(config)
    run = Run(created_run.dir.rename(store.root / run_id))
    run.events_path.unlink()
    started = created + 5 if state != "queued" else None
    ended = None if state in ("queued", "training") else (started or created) + 2.0 * steps + 30
    run.write_status(
        Status(
            state=state,
            created_at=created,
            started_at=started,
            ended_at=ended,
            updated_at=time.time() if ended is None else ended,
            pid=pid,
            reason=reason,
        )
    )
    run.append(StatusEvent(time=created, state="queued"))
    if started is not None:
        run.append(StatusEvent(time=started, state="training"))
        run.append(LogEvent(time=started, message="LoRA r=16: 294,912 trainable of 6,194,432 parameters"))
        run.append(EvalEvent(time=started + 1, which="baseline", figures=BASELINE))
        run.append(LogEvent(time=started + 2, message=f"training: {max_steps} steps, from step 0"))
        for step in range(1, steps + 1):
            run.append(step_event(step, max_steps, started + 2))
            if step % 20 == 0:
                run.append(CheckpointEvent(time=started + 2 + 2 * step, step=step, path=f"checkpoints/checkpoint-{step}"))
    if state == "ready":
        assert ended is not None
        run.append(EvalEvent(time=ended - 5, which="custom", figures=CUSTOM))
        write_json_atomic(run.metrics_path, METRICS.to_json())
    if state in ("ready", "failed", "cancelled"):
        run.append(StatusEvent(time=ended, state=state, reason=reason))
    return run


async def runs_listed(pilot: Pilot, count: int) -> RunsScreen:
    """Switch to the runs mode (F3) and wait until the table holds ``count`` runs."""
    await pilot.press("f3")
    await until(pilot, lambda: isinstance(pilot.app.screen, RunsScreen))
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    table = screen.query_one(RunTable)
    await until(pilot, lambda: len(table.shown) == count and table.row_count == count)
    return screen


async def run_page(pilot: Pilot, run_id: str, events: int | None = None) -> RunScreen:
    """Open ``run_id`` as the app does after a launch, and wait until it has read ``events`` events (or any)."""
    app = pilot.app
    assert isinstance(app, FinetuiApp)
    app.open_run(run_id)
    await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.state is not None)
    screen = app.screen
    assert isinstance(screen, RunScreen)
    if events is not None:
        await until(pilot, lambda: len(log_lines(screen)) == events)
    return screen


def log_lines(screen: RunScreen) -> list[str]:
    return list(screen.query_one(RunLog).lines)


def events_in(run: Run) -> int:
    return sum(1 for _ in run.events())


def text_of(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)  # type: ignore[attr-defined]


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


async def test_a_ready_run_shows_its_scorecard() -> None:
    run = write_run("20260101-0900-haiku", "ready", steps=60)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        card = screen.query_one(Scorecard)
        await until(pilot, lambda: card.metrics is not None)
        text = card.render().plain
        assert "accuracy   31.2% →   63.5% +32.3 pt" in text
        assert "loss      2.4130 →  1.0210 -1.3920" in text
        assert "on 1,234 held-out tokens" in text
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


@pytest.mark.parametrize(
    ("state", "key", "title"),
    [("ready", "c", "Nothing to cancel"), ("training", "r", "Can't resume"), ("failed", "p", "Not ready"), ("training", "d", "Can't delete")],
)
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


async def test_playground_opens_a_ready_run(monkeypatch: pytest.MonkeyPatch) -> None:
    run = write_run("20260101-0900-haiku", "ready", steps=60)
    opened: list[str | None] = []
    monkeypatch.setattr(FinetuiApp, "open_playground", lambda self, run_id=None: opened.append(run_id))
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await run_page(pilot, run.id)
        await pilot.press("p")
        assert opened == [run.id]


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


async def test_cancel_asks_then_signals_the_training_process() -> None:
    run = write_run("20260101-0900-haiku", "training", steps=4)
    # A stand-in for the training process: alive, and holding the run's worker lock as a worker does.
    holder = "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print(flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", holder, str(run.worker_lock_path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"\n"  # the lock is held
        run.write_status(run.status().moved("training", pid=proc.pid))
        app = FinetuiApp()
        async with app.run_test(size=SIZE) as pilot:
            screen = await run_page(pilot, run.id, events_in(run))
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: proc.poll() is not None)
            assert proc.returncode == -15  # SIGTERM: the real worker saves a checkpoint and stops
            await until(pilot, lambda: screen.state == "failed")  # this stand-in dies without a word
    finally:
        proc.kill()
        proc.wait()


async def test_resume_starts_the_training_process_again(tmp_path: Path) -> None:
    """Resume through the engine for real; the run's data file is missing, so the worker cannot train."""
    run = write_run("20260101-0900-haiku", "cancelled", steps=4, data=tmp_path / "missing.txt")
    app = FinetuiApp()
    pid = None
    try:
        async with app.run_test(size=SIZE) as pilot:
            await runs_listed(pilot, 1)
            await pilot.press("r")
            await until(pilot, lambda: run.status().pid is not None, timeout=30)
            pid = run.status().pid
            assert any(isinstance(e, StatusEvent) and e.state == "queued" and e.resumed for _, e in run.events())
    finally:
        if pid is not None:
            cancel(run)
            try:
                psutil.Process(pid).wait(timeout=120)
            except psutil.NoSuchProcess:
                pass
    assert run.status().state in ("cancelled", "failed")


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


@pytest.mark.parametrize(("end", "rings"), [("ready", True), ("failed", True), ("cancelled", False)])
async def test_the_bell_rings_when_a_run_becomes_ready_or_failed(end: str, rings: bool) -> None:
    run = write_run("20260101-0900-haiku", "training", steps=3)
    app = FinetuiApp(start_path=DATA)
    bells: list[str] = []
    app.bell = lambda: bells.append(app.screen.__class__.__name__)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.run_states == {run.id: "training"})
        assert bells == []
        run.write_status(run.status().moved(end))
        if rings:
            await until(pilot, lambda: bells == ["DataScreen"])  # whatever screen is up
        else:  # the bell is decided in the same step that records the new state: no wait can change it
            await until(pilot, lambda: app.run_states == {run.id: end})
            assert bells == []


async def test_a_long_history_arrives_in_order_over_several_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui.run_feed.EVENTS_PER_READ", 7)
    run = write_run("20260101-0900-haiku", "training", steps=40)
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        steps = [int(line.split()[2].split("/")[0]) for line in log_lines(screen) if line[10:].startswith("step ")]
        assert steps == list(range(1, 41))
        assert screen.log_offset == run.events_path.stat().st_size


def test_the_chart_resamples_to_its_width_and_labels_fit() -> None:
    assert resample([1.0, 2.0, 3.0, 4.0], 2) == [1.5, 3.5]  # more steps than columns: means
    assert resample([1.0, 2.0], 4) == [1.0, 1.0, 2.0, 2.0]  # fewer: each step gets its share of columns
    bottom, top = value_range([1.0, 3.0])
    assert top == 3.0 and bottom < 1.0  # the lowest column still shows
    assert [label(v) for v in (2.6234, 0.01234, 0.00012, 123456.0)] == ["2.62", "0.0123", "0.0001", "1e+05"]


# --- issue 12: broken run folders, bad event lines, typed numbers out of range --------------------


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


async def test_the_list_the_page_and_the_bell_share_one_read_per_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """One run watcher reads the store; the runs list, an open run page and the bell only render its snapshots."""
    import tui.run_feed
    from tui.run_watch import RunWatcher

    run = write_run("20260101-0900-haiku", "training", steps=3)
    reads: list[str] = []
    real_refresh = tui.run_feed.refresh
    monkeypatch.setattr("tui.run_feed.refresh", lambda r: reads.append(r.id) or real_refresh(r))
    published: list[int] = []
    real_publish = RunWatcher._publish
    monkeypatch.setattr(RunWatcher, "_publish", lambda self, snap: published.append(len(reads)) or real_publish(self, snap))
    app = FinetuiApp()
    async with app.run_test(size=SIZE) as pilot:
        await runs_listed(pilot, 1)
        page = await run_page(pilot, run.id)
        start = len(published)
        await until(pilot, lambda: len(published) >= start + 3)
        # Each snapshot since the page opened: one status read for the list's row, one for the page's detail.
        per_snapshot = [b - a for a, b in zip(published[start - 1 :], published[start:], strict=False)]
        assert set(per_snapshot) == {2}, per_snapshot
        assert page.state == "training" and app.run_states == {run.id: "training"}
