"""A training run and the playground share the CPU: each takes one thread while the other computes."""

from __future__ import annotations

import subprocess
import sys
import threading
from types import SimpleNamespace

import torch

from engine.config import DataConfig, RunConfig
from engine.cpu_share import PLAYGROUND_LOCK, TRAIN_LOCK, held, holding
from engine.runs import RunStore
from engine.train.callback import EventsCallback


def test_a_lock_held_by_another_process_is_seen_and_its_end_too() -> None:
    assert not held(PLAYGROUND_LOCK)  # no file yet
    script = (
        "import sys; from engine.cpu_share import holding, PLAYGROUND_LOCK\n"
        "with holding(PLAYGROUND_LOCK):\n    print('held', flush=True); sys.stdin.readline()\n"
    )
    other = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline() == "held\n"
        assert held(PLAYGROUND_LOCK) and not held(TRAIN_LOCK)
    finally:
        other.communicate("\n", timeout=30)
    assert not held(PLAYGROUND_LOCK)


def test_training_steps_take_one_thread_while_the_playground_computes() -> None:
    run = RunStore().create(RunConfig("share", DataConfig("data.txt")))
    callback = EventsCallback(run, threading.Event())
    args = SimpleNamespace(device=torch.device("cpu"))
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # two to give up, however many this process was given (one per pytest-xdist worker)
    try:
        with holding(PLAYGROUND_LOCK):
            callback.on_step_begin(args, None, None)
            assert torch.get_num_threads() == 1
        callback.on_step_begin(args, None, None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
