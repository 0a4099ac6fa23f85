"""What a run is doing when no step says it: its phase and the samples' count, and the run a queued one waits for.

After its last step a run scores the custom model and writes its samples for
minutes while the progress bar says 100%; the run page's head and
``finetui runs`` say which phase it is in, and "samples 8 of 24". A queued
run says after which run it starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import DataConfig, RunConfig, TrainConfig
from engine.runs import Run, RunStore
from engine.runs.events import PhaseEvent, event_from_line
from tests.fixed_runs import SIZE, T0, events_in, run_page, text_of, write_run
from tests.pilot_helpers import until
from tui.app import FinetuiApp
from tui.cli import main

pytestmark = pytest.mark.usefixtures("tui_env")


def write_scoring(run_id: str, done: int, total: int = 24) -> Run:
    """A training run past its last step, writing samples: ``done`` of ``total`` examples so far."""
    run = write_run(run_id, "training", name="facts", steps=60, max_steps=60)
    run.append(PhaseEvent(phase="custom"))
    run.append(PhaseEvent(phase="samples", done=0, total=total))
    if done:
        run.append(PhaseEvent(phase="samples", done=done, total=total))
    return run


def test_a_samples_phase_reads_back_with_its_count_and_an_old_phase_line_without() -> None:
    event = PhaseEvent(time=1.0, phase="samples", done=8, total=24)
    assert event_from_line(json.dumps(event.to_json()).encode()) == event
    old = event_from_line(b'{"time": 1.0, "kind": "phase", "phase": "custom"}')
    assert old == PhaseEvent(time=1.0, phase="custom") and old.done is None and old.total is None
    assert "done" not in PhaseEvent(phase="custom").to_json()  # the other phases' lines are as before


async def test_the_run_page_says_samples_8_of_24_after_the_last_step() -> None:
    run = write_scoring("20260101-1200-facts", 8)
    async with FinetuiApp().run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, run.id, events_in(run))
        await until(pilot, lambda: "samples" in text_of(screen, "#run-step"))
        assert text_of(screen, "#run-step") == "step 60/60 · samples 8 of 24"
        run.append(PhaseEvent(phase="saving"))
        await until(pilot, lambda: text_of(screen, "#run-step") == "step 60/60 · saving the adapter")


async def test_a_queued_run_page_says_after_which_run_it_starts() -> None:
    write_run("20260101-1200-shakespeare", "training", name="shakespeare", steps=34)
    queued = write_run("20260101-1300-haiku-long", "queued", name="haiku-long", created=T0 + 3600)
    async with FinetuiApp().run_test(size=SIZE) as pilot:
        screen = await run_page(pilot, queued.id)
        await until(pilot, lambda: "queued" in text_of(screen, "#run-step"))
        assert text_of(screen, "#run-step") == "queued: starts after 20260101-1200-shakespeare"


def test_runs_lists_each_run_s_phase_and_the_run_a_queued_one_waits_for(capsys: pytest.CaptureFixture[str]) -> None:
    write_run("20260101-0900-haiku", "ready", steps=60)
    scoring = write_scoring("20260101-1200-facts", 8)
    first = write_run("20260101-1300-haiku-long", "queued", name="haiku-long", created=T0 + 3600)
    second = write_run("20260101-1400-haiku-short", "queued", name="haiku-short", created=T0 + 7200)
    assert main(["runs"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "PHASE" in lines["RUN"]
    assert lines[scoring.id].endswith("samples 8 of 24")
    assert lines[first.id].endswith(f"queued: starts after {scoring.id}")
    assert lines[second.id].endswith(f"queued: starts after {first.id}")
    assert main(["runs", "--json"]) == 0
    phases = {row["id"]: row["phase"] for row in json.loads(capsys.readouterr().out)}
    assert phases["20260101-0900-haiku"] == "" and phases[second.id] == f"queued: starts after {first.id}"
    assert main(["show", second.id]) == 0
    assert f"progress -, eta -, queued: starts after {first.id}" in capsys.readouterr().out
    assert main(["show", scoring.id]) == 0
    assert "progress 100%, eta 0s, samples 8 of 24" in capsys.readouterr().out


@pytest.mark.slow
def test_make_samples_writes_its_count_after_each_batch(tmp_path: Path) -> None:
    """The real samples step, on the tiny model: a samples phase at 0, then one per batch up to all of them."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.data import Example
    from engine.train import samples as samples_module
    from engine.train.samples import make_samples
    from tests.tiny_model import CORPUS, make_adapter, make_model

    model_dir = make_model(tmp_path / "model")
    make_adapter(model_dir, tmp_path / "adapter", seed=1)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), str(tmp_path / "adapter"))
    words = CORPUS.split()
    examples = [Example(i, i + 1, "prompt_completion", prompt=" ".join(words[: 3 + i]), completion=" " + " ".join(words[i : i + 3])) for i in range(5)]
    config = RunConfig("s", DataConfig(str(tmp_path / "d.jsonl")), train=TrainConfig(samples=5, seq_len=64))
    run = RunStore(tmp_path / "runs").create(config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(samples_module, "SAMPLE_BATCH", 2)
        make_samples(run, model, AutoTokenizer.from_pretrained(model_dir), examples, config)
    counts = [(e.done, e.total) for _, e in run.events() if isinstance(e, PhaseEvent) and e.phase == "samples"]
    assert counts == [(0, 5), (2, 5), (4, 5), (5, 5)]


def test_show_says_how_long_a_training_run_has_been_running(capsys: pytest.CaptureFixture[str]) -> None:
    """While a run trains its status is not rewritten at every step, so "ran" measured to its last update said "ran 0s"."""
    import dataclasses
    import fcntl
    import os
    import time

    run = write_run("20260101-0900-busy", "training", steps=3, created=time.time() - 70)  # started 5 s after it was made
    status = run.status()
    run.write_status(dataclasses.replace(status, updated_at=status.started_at))  # as the worker leaves it between state changes
    lock = os.open(run.worker_lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # this process stands in for the live worker, so the run reads as training
        assert main(["show", run.id]) == 0
    finally:
        os.close(lock)
    out = capsys.readouterr().out
    assert "running for 1m0" in out and "ran 0s" not in out, out
