"""The run store: folders, status transitions, crash detection and lookups, without training."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.config import ConfigError, DataConfig, RunConfig, TrainConfig
from engine.runs import Run, RunNotFound, RunStore, lifecycle
from engine.runs.events import StatusEvent
from engine.runs.lifecycle import RunStateError, remove_run, resume_run
from engine.runs.process import INTERRUPTED, cancel, is_alive, refresh
from engine.runs.status import Status
from tests.waiting import final_state
from tui.cli import main


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def _config(name: str = "haiku") -> RunConfig:
    return RunConfig(name, DataConfig("/data/haiku.txt", separator="--SEPARATOR--"), train=TrainConfig(max_steps=3))


def test_create_writes_config_status_and_event(store):
    run = store.create(_config())
    assert RunConfig.from_dict(json.loads(run.config_path.read_text())) == _config()
    status = run.status()
    assert status.state == "queued" and status.pid is None and status.created_at > 0
    events = [e for _, e in run.events()]
    assert isinstance(events[0], StatusEvent) and events[0].state == "queued"


def test_lookup_by_id_prefix_and_name(store):
    a = store.create(_config("alpha"))
    b = store.create(_config("beta"))
    assert store.get(a.id) == a
    assert store.get("beta") == b
    assert [r.id for r in store.list()] == [a.id, b.id]
    with pytest.raises(RunNotFound, match="no run 'gamma'"):
        store.get("gamma")


def test_status_transitions_stamp_times():
    s = Status(created_at=1.0, updated_at=1.0)
    training = s.moved("training", pid=123, started_at=2.0)
    assert training.state == "training" and training.ended_at is None and training.pid == 123
    for final in ("ready", "failed", "cancelled"):
        ended = training.moved(final)
        assert ended.ended_at is not None and ended.started_at == 2.0
    queued_again = training.moved("failed").moved("queued")
    assert queued_again.ended_at is None
    with pytest.raises(ValueError):
        s.moved("exploded")


def test_dead_process_shows_as_failed_interrupted(store):
    run = store.create(_config())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run.write_status(run.status().moved("training", pid=proc.pid, started_at=time.time()))
    written = run.status_path.read_bytes()
    status = refresh(run)
    assert status.state == "failed" and status.reason == INTERRUPTED
    assert run.status_path.read_bytes() == written  # reading never writes (a full or read-only disk)


def test_live_process_of_another_program_is_not_the_run(store):
    """A pid reused by an unrelated process must not keep a run 'training' forever."""
    run = store.create(_config())
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        run.write_status(run.status().moved("training", pid=sleeper.pid))
        assert refresh(run).state == "failed"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_queued_without_process_gets_a_grace_period(store):
    run = store.create(_config())
    assert refresh(run).state == "queued"
    run.write_status(Status.from_dict({**run.status().to_dict(), "updated_at": time.time() - 3600}))
    assert refresh(run).state == "failed"


def test_cancel_a_run_whose_process_is_gone(store):
    run = store.create(_config())
    assert cancel(run).state == "cancelled"


def _hold_lock(path: Path, seconds: float, on_sigterm: str | None = None) -> subprocess.Popen:
    """Another process, holding an exclusive ``flock`` on ``path`` for ``seconds``, as a run's worker holds its lock.

    ``on_sigterm``, Python lines, is what it does when asked to stop, as a worker saves a checkpoint first.
    """
    code = "import fcntl, signal, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
    if on_sigterm is not None:
        code += "def _term(*_):\n" + textwrap.indent(on_sigterm, "    ") + "\nsignal.signal(signal.SIGTERM, _term)\n"
    code += "print('held', flush=True)\ntime.sleep(float(sys.argv[2]))"
    holder = subprocess.Popen([sys.executable, "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_resume_refuses_a_run_whose_last_process_does_not_end_and_changes_nothing(store, monkeypatch):
    monkeypatch.setattr(lifecycle, "ENDING_WAIT_S", 0.5)
    run = store.create(_config())
    run.write_status(run.status().moved("cancelled"))
    written, events = run.status_path.read_bytes(), run.events_path.read_bytes()
    holder = _hold_lock(run.worker_lock_path, 60)  # a worker that wrote its final status and does not end
    try:
        asked = time.monotonic()
        with pytest.raises(RunStateError, match=r"last process has not ended after 0 s; try again"):
            resume_run(run)
        assert time.monotonic() - asked >= 0.5  # it waited before refusing
    finally:
        holder.kill()
        holder.wait()
    assert run.status_path.read_bytes() == written and run.events_path.read_bytes() == events


#: What a training worker does on SIGTERM, in short: saves (half a second here), marks its run cancelled,
#: then ends (a moment, widened to a second here, in which the status is final and the lock still held).
SAVE_THEN_CANCELLED = """time.sleep(0.5)
from engine.runs import Run
run = Run(__import__('pathlib').Path(sys.argv[1]).parent)
run.write_status(run.status().moved('cancelled'))
time.sleep(1.0)
sys.exit(0)"""


@contextmanager
def _training(on_sigterm: str) -> Iterator[tuple[Run, subprocess.Popen]]:
    """A run marked training, its worker stood in for by a process that holds the run's lock and runs ``on_sigterm`` when asked to stop."""
    run = RunStore().create(_config())
    holder = _hold_lock(run.worker_lock_path, 60, on_sigterm=on_sigterm)
    try:
        run.write_status(run.status().moved("training", pid=holder.pid))
        yield run, holder
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_cancel_wait_returns_once_the_run_is_cancelled_and_its_worker_has_ended(capsys):
    with _training(SAVE_THEN_CANCELLED) as (run, holder):
        asked = time.monotonic()
        assert main(["cancel", run.id, "--wait"]) == 0
        waited = time.monotonic() - asked
        assert not is_alive(run), "returned before the worker let go of the run"
        # Its lock goes as it exits, a moment before the process is gone for good: it ends now, not in its 60 s.
        holder.wait(timeout=10)
    assert waited >= 1.5  # the worker's save and its end, not just the status it wrote first
    out = capsys.readouterr().out
    assert "waiting while it saves a checkpoint" in out and f"run {run.id} cancelled after" in out
    assert refresh(run).state == "cancelled"


def test_cancel_without_wait_returns_at_once(capsys):
    with _training(SAVE_THEN_CANCELLED) as (run, holder):
        assert main(["cancel", run.id]) == 0
        assert holder.poll() is None and refresh(run).state == "training"  # still saving: it was only asked
    assert "asked the training process to stop; it saves a checkpoint" in capsys.readouterr().out


def test_cancel_wait_gives_up_after_its_timeout_and_leaves_the_run_alone(capsys):
    with _training("pass") as (run, holder):  # a worker that takes its time to stop
        written = run.status_path.read_bytes()
        asked = time.monotonic()
        assert main(["cancel", run.id, "--wait", "--timeout", "0.5"]) == 1
        assert time.monotonic() - asked >= 0.5
        assert holder.poll() is None and run.status_path.read_bytes() == written
    err = capsys.readouterr().err
    assert f"run {run.id} has not stopped within 0.5 s; it is still stopping (finetui logs {run.id} -f follows it)" in err


@pytest.mark.slow
def test_ctrl_c_stops_the_waiting_not_the_cancel(monkeypatch, capsys):
    def interrupted(run, timeout, poll_s=0.2):
        raise KeyboardInterrupt

    monkeypatch.setattr("tui.commands.runs.wait_until_stopped", interrupted)
    with _training(SAVE_THEN_CANCELLED) as (run, holder):
        assert main(["cancel", run.id, "--wait"]) == 130
        holder.wait(10)  # the cancel stands: the worker still saves and stops
    assert f"stopped waiting; run {run.id} is still stopping" in capsys.readouterr().out
    assert refresh(run).state == "cancelled"


@pytest.mark.parametrize("argv", [["--timeout", "5"], ["--wait", "--timeout", "-1"]])
def test_cancel_timeout_needs_wait_and_a_time(argv, capsys):
    run = RunStore().create(_config())
    assert main(["cancel", run.id, *argv]) == 2
    assert "--timeout needs --wait" in capsys.readouterr().err
    assert run.status().state == "queued"


@pytest.mark.slow  # resuming starts a worker process
def test_resume_right_after_a_cancel_waits_for_the_last_process_to_end(store):
    run = store.create(_config())
    run.write_status(run.status().moved("cancelled"))
    holder = _hold_lock(run.worker_lock_path, 1.5)  # a worker that wrote its final status and is still ending
    held_since = time.monotonic()
    resume_run(run)
    assert time.monotonic() - held_since >= 1.4, "resume started a worker while the last one still held the lock"
    holder.wait(5)
    resumed = [e for _, e in run.events() if isinstance(e, StatusEvent)][-1]
    assert resumed.state == "queued" and resumed.resumed
    assert final_state(run, 120) == "failed"  # the new worker ran: the config's data file does not exist


def test_resume_and_remove_check_the_state(store, monkeypatch):
    run = store.create(_config())
    with pytest.raises(RunStateError, match="only failed or cancelled"):
        resume_run(run)
    with pytest.raises(RunStateError, match="cancel it first"):
        remove_run(run, store)
    run.write_status(run.status().moved("cancelled"))
    remove_run(run, store)
    assert not run.dir.exists() and store.list() == []


def test_config_round_trip_rejects_bad_values():
    raw = _config().to_dict()
    raw["train"]["lr"] = 3
    with pytest.raises(ConfigError, match="train.lr"):
        RunConfig.from_dict(raw)
    raw = _config().to_dict()
    raw["train"]["warp"] = 9
    with pytest.raises(ConfigError, match="train.warp"):
        RunConfig.from_dict(raw)


# --- issue 12: references, broken folders, liveness by lock, removal -----------------------------


@pytest.mark.parametrize("ref", ["", " ", "\t\n"])
def test_an_empty_reference_matches_no_run(store, ref):
    store.create(_config())
    with pytest.raises(RunNotFound, match="no run given"):
        store.get(ref)


def test_an_ambiguous_prefix_lists_the_runs_it_matches(store):
    a, b = store.create(_config("one")), store.create(_config("two"))
    with pytest.raises(RunNotFound, match="matches 2 runs") as info:
        store.get(a.id[:8])  # the date both ids start with
    assert a.id in str(info.value) and b.id in str(info.value)


BROKEN_FILES = {
    "empty status": ("status.json", b""),
    "invalid status": ("status.json", b'{"state": "queued", "created_'),
    "status not an object": ("status.json", b"[1, 2]"),
    "unknown state": ("status.json", b'{"state": "exploded", "created_at": 1}'),
    "status of wrong type": ("status.json", b'{"state": "ready", "created_at": "yesterday"}'),
    "status not UTF-8": ("status.json", b"\xff\xfe\x00"),
    "newer config key": ("config.json", b'{"name": "x", "data": {"path": "/d"}, "future": 1}'),
    "invalid config": ("config.json", b"{"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_FILES))
def test_a_broken_run_shows_as_broken_and_the_others_stay_usable(store, case):
    good, bad = store.create(_config("good")), store.create(_config("bad"))
    bad.write_status(bad.status().moved("ready"))
    name, content = BROKEN_FILES[case]
    (bad.dir / name).write_bytes(content)
    assert {r.id for r in store.list()} == {good.id, bad.id}
    status = refresh(bad)
    assert status.state == "broken" and name in status.reason
    assert store.get("good") == good and refresh(good).state == "queued"
    remove_run(bad, store)
    assert [r.id for r in store.list()] == [good.id]


def test_a_missing_config_or_a_stray_folder_is_broken_and_removable(store):
    run = store.create(_config())
    run.write_status(run.status().moved("cancelled"))
    run.config_path.unlink()
    (store.root / "stray").mkdir()
    (store.root / "stray.txt").write_text("not a run")
    states = {r.id: refresh(r) for r in store.list()}
    assert states[run.id].state == "broken" and "config.json is missing" in states[run.id].reason
    assert states["stray"].state == "broken" and "status.json is missing" in states["stray"].reason
    remove_run(store.get("stray"), store)
    assert not (store.root / "stray").exists() and (store.root / "stray.txt").exists()


def test_a_worker_is_alive_while_it_holds_the_lock_whatever_the_path_spelling(store, tmp_path):
    """Liveness is the worker's flock, not a pid or a command line: a symlinked home sees the same."""
    from engine.runs import Run
    from engine.runs.process import is_alive

    run = store.create(_config())
    link = tmp_path / "link"
    link.symlink_to(store.root.parent)
    holder = _hold_lock(link / "runs" / run.id / "worker.lock", 60)
    try:
        run.write_status(run.status().moved("training", pid=holder.pid))
        via_link = Run(link / "runs" / run.id)
        assert is_alive(run) and is_alive(via_link)
        assert refresh(run).state == "training" and refresh(via_link).state == "training"
        with pytest.raises(RunStateError, match="cancel it first"):
            remove_run(via_link, RunStore(link / "runs"))
    finally:
        holder.kill()
        holder.wait()
    assert not is_alive(run) and refresh(via_link).state == "failed"


def test_remove_moves_the_folder_aside_first_and_keeps_it_whole_on_failure(store, monkeypatch):
    import os

    from engine.runs.store import RunStoreError

    run = store.create(_config())
    run.write_status(run.status().moved("ready"))
    before = sorted(p.name for p in run.dir.iterdir())

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(RunStoreError, match="nothing was deleted"):
        remove_run(run, store)
    monkeypatch.undo()
    assert sorted(p.name for p in run.dir.iterdir() if p.name != ".status.lock") == before
    assert refresh(run).state == "ready"
    remove_run(run, store)
    assert list(store.root.iterdir()) == []


def test_a_half_deleted_run_is_no_longer_listed(store, monkeypatch):
    import shutil

    from engine.runs.store import RunStoreError

    run = store.create(_config())
    run.write_status(run.status().moved("ready"))
    real = shutil.rmtree

    def partial(path, **kwargs):
        handler = kwargs.get("onexc") or kwargs.get("onerror")
        handler(os_unlink, str(path) + "/adapter", PermissionError(13, "Permission denied"))

    os_unlink = None
    monkeypatch.setattr(shutil, "rmtree", partial)
    with pytest.raises(RunStoreError, match="removed from the list"):
        remove_run(run, store)
    monkeypatch.setattr(shutil, "rmtree", real)
    assert store.list() == []


def test_a_run_being_created_is_never_seen_half_made(store):
    run = store.create(_config())
    assert sorted(p.name for p in store.root.iterdir()) == [run.id]
    assert {p.name for p in run.dir.iterdir()} >= {"config.json", "status.json", "events.jsonl"}


@pytest.mark.parametrize("field,value", [("epochs", float("inf")), ("epochs", 1e308), ("seed", -1), ("seed", 2**64), ("max_steps", 10**12)])
def test_config_bounds_numbers_before_they_overflow(field, value):
    with pytest.raises(ConfigError, match=f"train.{field}"):
        TrainConfig(**{field: value})
