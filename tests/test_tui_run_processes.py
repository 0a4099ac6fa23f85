"""Run page actions that reach a process: cancel signals the training process, resume starts one again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from engine.runs.events import StatusEvent
from engine.runs.process import cancel
from tests.fixed_runs import SIZE, events_in, run_page, runs_listed, write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.screens.dialogs import ConfirmScreen

pytestmark = pytest.mark.usefixtures("tui_env")  # the repository root (paths on screen are relative), UTC (times are local)


@pytest.mark.slow
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


@pytest.mark.slow
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
