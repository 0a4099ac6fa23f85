"""Faults become a failed status with a reason in plain words."""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest

from engine.config import DataConfig, RunConfig
from engine.data import DataError
from engine.errors import FinetuiError, Hint
from engine.runs import RunStore
from engine.train.callback import EventsCallback
from engine.train.failure import TrainingFailed, failure_reason


def _callback() -> EventsCallback:
    run = RunStore().create(RunConfig("faults", DataConfig("/data/x.txt")))
    callback = EventsCallback(run, threading.Event())
    state = SimpleNamespace(global_step=0, num_input_tokens_seen=0, max_steps=10, epoch=0.0)
    callback.on_train_begin(None, state, None)
    return callback


@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
def test_non_finite_loss_fails_the_run_with_advice(loss):
    callback = _callback()
    state = SimpleNamespace(global_step=7, num_input_tokens_seen=100, max_steps=10, epoch=0.5)
    with pytest.raises(TrainingFailed, match="at step 7.*lower learning rate"):
        callback.on_log(None, state, None, logs={"loss": loss})


def test_step_event_carries_progress_and_eta():
    callback = _callback()
    state = SimpleNamespace(global_step=5, num_input_tokens_seen=500, max_steps=10, epoch=0.5)
    callback.on_log(None, state, None, logs={"loss": 1.5, "learning_rate": 1e-4, "grad_norm": 0.3})
    step = callback.run.last_step()
    assert step is not None and step.progress == 0.5 and step.loss == 1.5 and step.eta_s is not None and step.tokens_seen == 500


def test_cancel_asks_the_trainer_to_save_and_stop():
    callback = _callback()
    control = SimpleNamespace(should_save=False, should_training_stop=False)
    callback.on_step_end(None, None, control)
    assert not control.should_save
    callback.stop.set()
    callback.on_step_end(None, None, control)
    assert control.should_save and control.should_training_stop


def test_reasons_are_plain_words_in_the_configs_terms():
    """A failed run's reason is stored with it and read by every front end: settings go by their config path."""
    lower = "out of memory: lower train.batch_size or train.seq_len, or set model.quant to '4bit'"
    assert failure_reason(MemoryError()) == lower
    oom = type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory")
    assert failure_reason(oom) == lower
    full = OSError(errno.ENOSPC, "No space left on device", "/runs/x/checkpoints")
    assert failure_reason(full) == "the disk is full (/runs/x/checkpoints): free some space, then resume the run"
    assert failure_reason(DataError("a.txt", "file is empty")) == "a.txt: file is empty"
    assert failure_reason(TrainingFailed("the loss became nan")) == "the loss became nan"
    refused = FinetuiError("the model ships its own code", "remote_code", Hint("model.trust_remote_code", True, "if you trust it"))
    assert failure_reason(refused) == "the model ships its own code; set model.trust_remote_code to True if you trust it"


def test_a_full_disk_during_save_reads_as_a_full_disk_not_a_safetensors_error():
    from safetensors import SafetensorError

    raised = SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: \"No space left on device\" })")
    assert failure_reason(raised).startswith("the disk is full")
    torch_style = RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 vs 0: No space left on device")
    assert failure_reason(torch_style).startswith("the disk is full")


def test_no_eval_tokens_gives_a_scorecard_without_nan(tmp_path):
    import json

    from engine.files import write_json_atomic
    from engine.runs.events import EvalFigures, Scorecard, TrainFigures
    from tui.format import format_scorecard

    empty = EvalFigures(None, None, 0)
    card = Scorecard(empty, empty, TrainFigures(steps=2, tokens=10, train_time_s=1.0, peak_memory_bytes=1, device="cpu"))
    assert card.to_json()["change"] == {"loss": None, "accuracy_points": None}
    write_json_atomic(tmp_path / "metrics.json", card.to_json())
    json.loads((tmp_path / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert "no eval tokens were scored" in format_scorecard(card) and "nan" not in format_scorecard(card)
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "bad.json", {"loss": float("nan")})  # never NaN on disk


def test_a_data_file_with_no_eval_example_is_refused_before_a_run_exists(tmp_path, capsys, finetui_home):
    from tui.cli import main

    one = tmp_path / "one.jsonl"
    one.write_text('{"prompt": "2+2=", "completion": "4"}\n')
    code = main(["train", str(one), "--max-steps", "2", "--detach"])
    err = capsys.readouterr().err
    assert code == 2 and "none for the eval split" in err and len(err.strip().splitlines()) == 1
    assert RunStore().list() == []


#: In a fresh interpreter, as the run's worker: prepare a run on bad data, word why it failed, and list the heavy imports.
BAD_DATA_RUN = """
import sys
from engine.config import DataConfig, RunConfig
from engine.runs import RunStore
from engine.train.failure import TrainingFailed, failure_reason
from engine.train.finetune import prepare
run = RunStore().create(RunConfig("bad", DataConfig(sys.argv[1])))
try:
    prepare(run)
except Exception as exc:
    print(failure_reason(exc))
print(sorted(m for m in ("torch", "transformers", "peft") if m in sys.modules))
"""


@pytest.mark.slow
def test_a_bad_data_file_fails_the_run_before_torch_and_transformers_load(tmp_path, monkeypatch):
    """The data is read, and the failure worded, before the imports that take about 10 s: the run fails at once."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a"}\n')
    monkeypatch.setenv("FINETUI_HOME", str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-c", BAD_DATA_RUN, str(bad)], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines() == [f"{bad}:1: field 'completion' is missing", "[]"], done.stderr[-2000:]
