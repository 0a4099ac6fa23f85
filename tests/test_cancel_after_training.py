"""A cancel after training, while the custom model is scored or the samples are written, ends the run Cancelled at once.

``finetui cancel`` promises a checkpoint, then Cancelled. Training is over
by then and its last checkpoint is on disk, so the run stops before saving
the adapter; resuming it scores the custom model, writes the samples and
saves. The worker's own code (``engine.train.worker._work``) runs in this
process on a tiny model; the test hook holds it at the custom phase until
the cancel arrives.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.runs import RunStore
from engine.runs.events import LogEvent, PhaseEvent, StatusEvent
from engine.train.finetune import PAUSE_ENV
from engine.train.samples import samples_path
from engine.train.worker import _work
from tests.tiny_model import make_model

pytestmark = pytest.mark.slow  # it trains a model


def test_a_cancel_after_training_ends_cancelled_and_resuming_finishes_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINETUI_HOME", str(tmp_path / "home"))
    model = make_model(tmp_path / "model")
    data = tmp_path / "lines.txt"
    data.write_text("\n--SEP--\n".join(f"the quick brown fox {i} jumps over the lazy dog" for i in range(40)))
    train = TrainConfig(max_steps=3, batch_size=4, seq_len=32, save_steps=100, samples=4)
    run = RunStore().create(RunConfig("c", DataConfig(str(data), separator="--SEP--"), ModelConfig(str(model), quant="none"), train=train))

    monkeypatch.setenv(PAUSE_ENV, "custom")
    stop = threading.Event()
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(_work(run, stop, resume=False)), daemon=True)
    worker.start()
    deadline = time.time() + 120
    while not any(isinstance(e, PhaseEvent) and e.phase == "custom" for _, e in run.events()):
        assert worker.is_alive() and time.time() < deadline, "the run never reached the custom phase"
        time.sleep(0.05)
    stop.set()  # what the worker's SIGTERM handler does
    worker.join(60)
    assert codes == [0] and run.status().state == "cancelled"
    assert not run.adapter_dir.exists() and run.metrics() is None and not samples_path(run).exists()
    assert run.last_checkpoint() is not None and run.last_checkpoint().name == "checkpoint-3"
    assert any(isinstance(e, LogEvent) and e.message.startswith("cancelled after training, at step 3") for _, e in run.events())

    monkeypatch.delenv(PAUSE_ENV)
    run.write_status(run.status().moved("queued", reason=None, pid=None))  # as `resume` leaves it for its worker
    assert _work(run, threading.Event(), resume=True) == 0
    assert run.status().state == "ready"
    metrics = run.metrics()
    assert metrics is not None and metrics.custom is not None and metrics.samples is not None and samples_path(run).is_file()
    assert [e.state for _, e in run.events() if isinstance(e, StatusEvent)] == ["queued", "training", "cancelled", "training", "ready"]
