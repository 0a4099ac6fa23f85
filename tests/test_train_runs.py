"""Real training runs on a tiny model: detached processes, scorecard, cancel, crash, resume, queue."""

from __future__ import annotations

import json
import os
import signal
import threading
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.files import held_by_someone
from engine.runs import Run, RunStore
from engine.runs.events import CheckpointEvent, LogEvent, RunEvent, StatusEvent, StepEvent
from engine.runs.lifecycle import resume_run, start_run
from engine.runs.process import INTERRUPTED, cancel, refresh
from tests.waiting import final_state, wait_for

pytestmark = pytest.mark.slow  # every test here starts training processes

TIMEOUT_S = 240


def _config(data: Path, model: Path, name: str, **train) -> RunConfig:
    train = {"max_steps": 40, "save_steps": 5, "lr": 5e-3, "batch_size": 4, "seq_len": 64, **train}
    return RunConfig(name, DataConfig(str(data), separator="--SEP--"), ModelConfig(str(model)), train=TrainConfig(**train))


_wait = partial(wait_for, timeout=TIMEOUT_S)


E = TypeVar("E", bound=RunEvent)


def _events(run: Run, kind: type[E]) -> list[E]:
    return [e for _, e in run.events() if isinstance(e, kind)]


def _final(run: Run) -> str:
    return final_state(run, TIMEOUT_S)


def _base_outputs(model) -> dict:
    """What each frozen 4-bit layer computes on a fixed input.

    Also checks that nothing repacked the 4-bit weights for bitsandbytes' CPU
    inference kernel, which has no backward (see ``_one_kernel_for_training``).
    """
    import torch
    from bitsandbytes.nn import Linear4bit

    torch.manual_seed(0)
    out = {}
    model.eval()
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, Linear4bit):
                x = torch.randn(3, module.in_features)
                out[name] = module(x).clone()
    return out


def test_lora_weights_change_and_base_weights_do_not(lines, tiny_model):
    from engine.train.finetune import fit, prepare

    run = RunStore().create(_config(lines, tiny_model, "lora", max_steps=6, save_steps=100))
    session = prepare(run)
    before = {n: p.detach().clone() for n, p in session.model.named_parameters()}
    layers_before = _base_outputs(session.model)
    assert layers_before, "the base model should be made of 4-bit layers"
    session.model.train()
    assert fit(session, threading.Event()) == "ready"
    after = dict(session.model.named_parameters())
    lora = [n for n in before if "lora_" in n]
    base = [n for n in before if "lora_" not in n]
    assert lora and base
    assert all(not after[n].detach().equal(before[n]) for n in lora if "lora_B" in n)
    changed = [n for n in base if not after[n].detach().equal(before[n])]
    assert not changed, changed
    layers_after = _base_outputs(session.model)
    for name, y in layers_before.items():
        assert layers_after[name].equal(y), f"4-bit base layer {name} changed"
    assert set(json.loads(run.metrics_path.read_text())) == {"schema", "baseline", "custom", "change", "train", "samples"}
    metrics = run.metrics()
    assert metrics is not None and metrics.custom.loss is not None and metrics.baseline.loss is not None
    assert metrics.custom.loss < metrics.baseline.loss
    assert metrics.loss_change == pytest.approx(metrics.custom.loss - metrics.baseline.loss)
    assert metrics.train.tokens and len(metrics.train.loss_curve) == 6
    assert (run.adapter_dir / "adapter_model.safetensors").exists()


def test_detached_run_cancel_then_resume_to_ready(lines, tiny_model):
    run = start_run(_config(lines, tiny_model, "cancel", max_steps=400, save_steps=1000))
    _wait(lambda: _events(run, StepEvent), "the first step")
    assert refresh(run).state == "training"
    cancel(run)
    assert _final(run) == "cancelled"
    checkpoint = run.last_checkpoint()
    assert checkpoint is not None, "cancel must save a checkpoint"
    saved_step = int(checkpoint.name.split("-")[1])
    states = [e.state for e in _events(run, StatusEvent)]
    assert states == ["queued", "training", "cancelled"]

    raw = run.config().to_dict()
    raw["train"]["max_steps"] = saved_step + 3  # keep the test short: finish soon after resuming
    run.config_path.write_text(json.dumps(raw))
    resume_run(run)
    assert _final(run) == "ready", run.status().reason
    steps_after = [e.step for e in _events(run, StepEvent) if e.step > saved_step]
    assert steps_after and min(steps_after) == saved_step + 1
    assert any("resuming from" in e.message for e in _events(run, LogEvent))
    metrics = run.metrics()
    assert metrics is not None and metrics.train.steps == saved_step + 3


def test_killed_process_shows_failed_interrupted_then_resumes(lines, tiny_model):
    run = start_run(_config(lines, tiny_model, "killed", max_steps=300, save_steps=2))
    _wait(lambda: _events(run, CheckpointEvent), "a checkpoint")
    os.kill(run.status().pid, signal.SIGKILL)
    status = _wait(lambda: (s := refresh(run)).state == "failed" and s, "the crash to be noticed", timeout=30)
    assert status.reason == INTERRUPTED
    raw = run.config().to_dict()
    raw["train"]["max_steps"] = int(run.last_checkpoint().name.split("-")[1]) + 2
    run.config_path.write_text(json.dumps(raw))
    resume_run(run)
    assert _final(run) == "ready", run.status().reason


def test_second_run_waits_queued_until_the_first_ends(lines, tiny_model):
    first = start_run(_config(lines, tiny_model, "first", max_steps=400, save_steps=1000))
    second = start_run(_config(lines, tiny_model, "second", max_steps=3, save_steps=1000))
    _wait(lambda: _events(first, StepEvent), "the first run to train")
    # The second run's worker is alive in the queue (it holds its worker lock and has claimed the run) ...
    _wait(lambda: held_by_someone(second.worker_lock_path) and refresh(second).pid is not None, "the second worker to queue")
    seen = len(_events(first, StepEvent))
    # ... and stays queued while the first one goes on training: a step logged after that proves time passed.
    _wait(lambda: len(_events(first, StepEvent)) > seen, "the first run to log another step")
    assert refresh(second).state == "queued" and not _events(second, StepEvent)
    assert [e.state for e in _events(second, StatusEvent)] == ["queued"]
    cancel(first)
    assert _final(first) == "cancelled"
    assert _final(second) == "ready", second.status().reason
    second_trained_at = next(e.time for e in _events(second, StatusEvent) if e.state == "training")
    assert second_trained_at is not None
    assert second_trained_at >= first.status().ended_at - 0.5


def test_cancel_while_queued(lines, tiny_model):
    first = start_run(_config(lines, tiny_model, "blocker", max_steps=400, save_steps=1000))
    queued = start_run(_config(lines, tiny_model, "waiting"))
    _wait(lambda: refresh(queued).pid is not None and refresh(first).state == "training", "both processes")
    cancel(queued)
    assert _final(queued) == "cancelled"
    assert not _events(queued, StepEvent)
    cancel(first)
    assert _final(first) == "cancelled"


def test_cli_train_says_whether_the_run_starts_or_waits(lines, tiny_model, capsys):
    from tui.cli import main

    def train(name: str) -> tuple[Run, str]:
        argv = ["train", str(lines), "--separator", "--SEP--", "--model", str(tiny_model), "--name", name]
        assert main([*argv, "--max-steps", "400", "--save-steps", "1000", "--seq-len", "64", "--detach"]) == 0
        return next(run for run in RunStore().list() if run.config().name == name), capsys.readouterr().out

    first, out = train("first")
    assert f"run {first.id} started\n" in out
    second, out = train("second")
    assert f"run {second.id} is queued: it starts when {first.id} ends" in out
    for run in (second, first):
        cancel(run)
        assert _final(run) == "cancelled"


def test_a_cancel_before_the_worker_starts_is_kept(lines, tiny_model):
    """Cancelled in the moment between launch and the worker's first word: the worker must not revive it."""
    import psutil

    from engine.runs.process import launch

    run = RunStore().create(_config(lines, tiny_model, "early"))
    assert cancel(run).state == "cancelled"  # no process yet: marked here
    worker = psutil.Process(launch(run))  # the worker starts late
    assert worker.wait(timeout=TIMEOUT_S) == 0
    assert run.status().state == "cancelled" and run.status().reason == "cancelled before it started"
    assert [e.state for e in _events(run, StatusEvent)] == ["queued", "cancelled"]
