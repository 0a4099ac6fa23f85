"""The run store: folders, status transitions, crash detection and lookups, without training."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from engine.config import ConfigError, DataConfig, RunConfig, TrainConfig
from engine.runs import RunNotFound, RunStore
from engine.runs.lifecycle import RunStateError, remove_run, resume_run
from engine.runs.process import INTERRUPTED, cancel, refresh
from engine.runs.status import Status


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
    assert events[0]["kind"] == "status" and events[0]["state"] == "queued"


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
    status = refresh(run)
    assert status.state == "failed" and status.reason == INTERRUPTED
    assert run.status().state == "failed"  # recorded for everyone, not just computed
    assert [e for _, e in run.events()][-1]["state"] == "failed"


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
