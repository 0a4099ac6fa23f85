"""Fault injection with real workers: kill -9 at each phase, racing resumes, a symlinked home, and a run
trained to ready while the other fault cases run beside it.

These train a tiny model for real in their own processes (all marked slow);
every subprocess's output is searched for a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from engine.runs import Run, RunStore
from engine.runs.events import EvalEvent, LogEvent, PhaseEvent
from engine.runs.process import refresh
from tests.run_folders import FILES, cli, damage, one_line_error, ready_run, strict_json
from tests.waiting import final_state, wait_for

# --- real workers: kills, races, a symlinked home, and a run trained through it all ---------------

TIMEOUT_S = 300


def _train_args(data: Path, model: Path, *extra: str) -> list[str]:
    return ["train", str(data), "--separator", "--SEP--", "--model", str(model), "--quant", "none",
            "--lr", "5e-3", "--batch-size", "4", "--seq-len", "64", "--save-steps", "2", "--detach", *extra]


def finetui(*args: str, home: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``finetui ARGS`` as a user runs it, in its own process; its output must hold no traceback."""
    environ = {**os.environ, **(env or {})}
    if home is not None:
        environ["FINETUI_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, env=environ, timeout=TIMEOUT_S)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


_wait = partial(wait_for, timeout=TIMEOUT_S)


def _the_run(home: Path) -> Run:
    runs = RunStore(home / "runs").list()
    assert len(runs) == 1, runs
    return runs[0]


def _phase_reached(run: Run, phase: str) -> bool:
    return any(isinstance(e, PhaseEvent) and e.phase == phase for _, e in run.events())


def _final(run: Run) -> str:
    return final_state(run, TIMEOUT_S)


def _workers(run: Run) -> list[int]:
    """Live worker processes of this run, found by their command line (for the test only)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "engine.train.worker" in cmd and any(Path(arg).name == run.id for arg in cmd):
            found.append(proc.pid)
    return found


def _check_scorecard(run: Run, steps: int) -> dict:
    """The ready run's scorecard is whole, finite, and agrees with its own events."""
    metrics = strict_json(run.metrics_path.read_text())
    assert isinstance(metrics, dict)
    evals = {e.which: e for _, e in run.events() if isinstance(e, EvalEvent)}
    for which in ("baseline", "custom"):
        assert metrics[which]["tokens"] > 0 and metrics[which]["loss"] == evals[which].figures.loss
    assert metrics["change"]["loss"] == pytest.approx(metrics["custom"]["loss"] - metrics["baseline"]["loss"])
    # A run resumed from its last checkpoint gets one more step from transformers 5's resume (at lr 0: no change).
    assert metrics["train"]["steps"] in (steps, steps + 1)
    assert (run.adapter_dir / "adapter_model.safetensors").is_file() and not list(run.adapter_dir.glob("*.bin"))
    return metrics


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["loading", "baseline", "training", "custom", "saving"])
def test_kill_9_at_each_phase_reads_failed_and_resumes_to_ready(finetui_home, lines, tiny_model, phase):
    done = finetui(*_train_args(lines, tiny_model, "--max-steps", "4"), env={"FINETUI_TEST_PAUSE_AT": phase})
    assert done.returncode == 0, done.stderr
    run = _the_run(finetui_home)
    _wait(lambda: _phase_reached(run, phase), f"phase {phase}")
    [pid] = _workers(run)
    written = run.status_path.read_bytes()
    os.kill(pid, 9)
    _wait(lambda: refresh(run).state == "failed", "the kill to be seen")
    shown = finetui("show", run.id, "--json", home=finetui_home)
    assert shown.returncode == 0 and strict_json(shown.stdout)["status"]["reason"].startswith("interrupted")  # type: ignore[index]
    assert run.status_path.read_bytes() == written  # seen as failed by reading alone
    assert not run.adapter_dir.exists() and not run.metrics_path.exists()  # nothing half-made looks whole
    if phase in ("training", "saving"):
        resumed = finetui("resume", run.id, home=finetui_home)
        assert resumed.returncode == 0, resumed.stderr
        assert _final(run) == "ready"
        _check_scorecard(run, steps=4)


@pytest.mark.slow
def test_a_cancel_while_the_model_loads_or_the_baseline_scores_ends_the_run_at_once(finetui_home, lines, tiny_model):
    """Loading (a download, gigabytes from disk) and the baseline can take minutes; a cancel there does not wait for them.

    The test hook holds the worker in the baseline phase for ever: only a cancel that stops it where it is ends the run.
    """
    done = finetui(*_train_args(lines, tiny_model, "--max-steps", "3"), env={"FINETUI_TEST_PAUSE_AT": "baseline"})
    assert done.returncode == 0, done.stderr
    run = _the_run(finetui_home)
    _wait(lambda: _phase_reached(run, "baseline"), "the baseline phase")
    asked = time.time()
    assert finetui("cancel", run.id, home=finetui_home).returncode == 0
    assert _final(run) == "cancelled"
    assert run.status().ended_at - asked < 10  # at once, not after loading and scoring (held here for ever)
    assert any(isinstance(e, LogEvent) and e.message == "cancelled before training began" for _, e in run.events())
    assert not run.adapter_dir.exists() and run.last_checkpoint() is None
    assert finetui("resume", run.id, home=finetui_home).returncode == 0
    assert _final(run) == "ready"
    _check_scorecard(run, steps=3)


@pytest.mark.slow
def test_concurrent_resumes_start_one_worker_and_cancel_stops_it(finetui_home, lines, tiny_model):
    done = finetui(*_train_args(lines, tiny_model, "--max-steps", "400"))
    run = _the_run(finetui_home)
    _wait(lambda: _phase_reached(run, "training"), "training")
    assert finetui("cancel", run.id, home=finetui_home).returncode == 0
    assert _final(run) == "cancelled"
    _wait(lambda: _workers(run) == [], "the cancelled worker to exit")  # it writes its status, then its process ends
    procs = [subprocess.Popen([sys.executable, "-m", "tui.cli", "resume", run.id], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [(p.wait(timeout=TIMEOUT_S), *p.communicate()) for p in procs]
    assert all("Traceback" not in out + err for _, out, err in results)
    assert sorted(code for code, _, _ in results) == [0, 2, 2, 2], results  # one resumed; three were refused
    _wait(lambda: _phase_reached(run, "training") and refresh(run).state == "training", "the resumed run to train")
    # Every resume has exited, and a launch starts its worker before it returns: any second worker is up by now.
    assert len(_workers(run)) == 1
    assert finetui("cancel", run.id, home=finetui_home).returncode == 0
    assert _final(run) == "cancelled"
    _wait(lambda: _workers(run) == [], "the worker to exit")
    assert refresh(run).state == "cancelled"  # no other worker trains it on
    assert done.returncode == 0


@pytest.mark.slow
def test_a_symlinked_home_sees_the_same_live_run(finetui_home, lines, tiny_model, tmp_path):
    finetui_home.mkdir(parents=True, exist_ok=True)
    link = tmp_path / "ft-link"
    link.symlink_to(finetui_home)
    assert finetui(*_train_args(lines, tiny_model, "--max-steps", "400"), home=link).returncode == 0
    run = _the_run(finetui_home)
    _wait(lambda: _phase_reached(run, "training"), "training")
    for home in (finetui_home, link):
        listed = finetui("runs", "--json", home=home)
        assert [row["state"] for row in strict_json(listed.stdout)] == ["training"]  # type: ignore[union-attr]
        removed = finetui("rm", run.id, home=home)
        assert removed.returncode == 2 and "cancel it first" in removed.stderr and run.dir.is_dir()
    cancelled = finetui("cancel", run.id, home=finetui_home)
    assert cancelled.returncode == 0 and "asked the training process to stop" in cancelled.stdout
    assert _final(run) == "cancelled"
    assert finetui("rm", run.id, home=link).returncode == 0 and not run.dir.exists()


@pytest.mark.slow
def test_a_run_reaches_ready_with_its_scorecard_while_chaos_runs_beside_it(finetui_home, lines, tiny_model, capsys):
    """Must-show 3: the suite's chaos next to a live run in the same home leaves it untouched."""
    steps = 24
    assert finetui(*_train_args(lines, tiny_model, "--max-steps", str(steps), "--name", "steady")).returncode == 0
    steady = _the_run(finetui_home)
    store = RunStore(finetui_home / "runs")
    _wait(lambda: _phase_reached(steady, "baseline"), "the steady run to load")

    # broken neighbours of every kind, read by every command, then removed
    for n, (which, how) in enumerate([("status", "garbage"), ("config", "deleted"), ("events", "a folder"), ("metrics", "truncated")]):
        victim = ready_run(store, f"victim{n}")
        damage(FILES[which](victim), how)
        for args in (("runs",), ("runs", "--json"), ("show", victim.id), ("logs", victim.id), ("show", "steady")):
            code, _, err = cli(capsys, *args)
            assert code == 0, err
        code, _, err = cli(capsys, "rm", victim.id)
        assert code == 0, err
    (store.root / "stray").mkdir()
    code, _, _ = cli(capsys, "rm", "stray")
    assert code == 0
    # empty references and hostile commands aimed at the live run
    for args in (("rm", ""), ("cancel", " "), ("resume", steady.id), ("rm", steady.id), ("resume", "")):
        code, _, err = cli(capsys, *args)
        one_line_error(code, err, args[0])
    # a second run queued behind it, resumed four times at once after a cancel, then removed
    assert finetui(*_train_args(lines, tiny_model, "--max-steps", "2", "--name", "other")).returncode == 0
    other = store.get("other")
    assert finetui("cancel", other.id).returncode == 0
    assert _final(other) == "cancelled"
    procs = [subprocess.Popen([sys.executable, "-m", "tui.cli", "resume", other.id], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    assert sorted(p.wait(timeout=TIMEOUT_S) for p in procs) == [0, 2, 2, 2]
    assert finetui("cancel", other.id).returncode == 0
    assert _final(other) == "cancelled"
    assert finetui("rm", other.id).returncode == 0

    assert _final(steady) == "ready", steady.log_path.read_text()[-2000:]
    metrics = _check_scorecard(steady, steps=steps)
    assert metrics["custom"]["loss"] < metrics["baseline"]["loss"]  # it learned: lr 5e-3 on repeated lines
    assert [r.id for r in store.list()] == [steady.id]

