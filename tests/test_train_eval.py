"""Evaluation during training, the best checkpoint, early stopping and samples, on one real run of a tiny model.

The run trains a 2-layer model with a learning rate far too high for it,
evaluating at every step: the eval loss stops improving within a few steps,
so early stopping ends it before ``max_steps`` and ``--load-best`` goes back
to an earlier step. The assertions read the run folder, as the CLI and TUI do.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest

from engine.config import EVALS_PER_RUN, DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.runs import Run, RunStore
from engine.runs.events import DURING, EvalEvent, StepEvent
from engine.train import eval_steps
from engine.train.eval_steps import EvalPlan, eval_sample, total_steps
from engine.train.samples import contains, exact, read_samples
from engine.train.tokenize import Encoded
from tests.tiny_model import make_model

pytestmark = pytest.mark.slow

MAX_STEPS = 8
WORDS = "the quick brown fox jumps over the lazy dog a journey of a thousand miles begins with".split()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    from engine.train.finetune import fine_tune

    model = make_model(tmp_path_factory.mktemp("tiny-model"))
    data = tmp_path_factory.mktemp("data") / "pairs.jsonl"
    n = len(WORDS)
    rows = [{"prompt": f"{WORDS[i % n]} {WORDS[3 * i % n]}", "completion": f" {WORDS[5 * i % n]} {WORDS[7 * i % n]} {WORDS[11 * i % n]}"} for i in range(16)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    train = TrainConfig(
        max_steps=MAX_STEPS, lr=0.3, batch_size=4, seq_len=32, eval_steps=1, load_best=True, early_stop=2, samples=3, save_steps=100
    )
    config = RunConfig("overfit", DataConfig(str(data), eval_fraction=0.25), ModelConfig(str(model), quant="none"), train=train)
    run = RunStore(tmp_path_factory.mktemp("runs")).create(config)
    # This tiny model's eval loss moves by under 1% (5.69 to 5.63): at the default tolerance every checkpoint ties
    # with the lowest and the latest is kept. At none, the Trainer's plumbing is seen choosing an earlier one and stopping.
    tolerance, eval_steps.KEEP_WITHIN = eval_steps.KEEP_WITHIN, 0.0
    try:
        assert fine_tune(run, threading.Event()) == "ready"
    finally:
        eval_steps.KEEP_WITHIN = tolerance
    return run


def _curve(run: Run) -> dict[int, float]:
    return {e.step: e.figures.loss for _, e in run.events() if isinstance(e, EvalEvent) and e.which == DURING and e.step is not None}


def test_each_evaluation_is_an_eval_event_and_step_0_is_the_baseline(run: Run) -> None:
    curve = _curve(run)
    steps = max(e.step for _, e in run.events() if isinstance(e, StepEvent))
    assert sorted(curve) == list(range(0, steps + 1))  # eval_steps=1: every step, and the base model at 0
    baseline = next(e for _, e in run.events() if isinstance(e, EvalEvent) and e.which == "baseline")
    assert curve[0] == pytest.approx(baseline.figures.loss)  # the eval split is smaller than the sample: the same numbers
    metrics = run.metrics()
    assert metrics is not None and dict(metrics.train.eval_curve) == pytest.approx(curve)


def test_early_stop_ends_the_run_and_says_why(run: Run) -> None:
    from engine.train.worker import _early_stop

    metrics = run.metrics()
    assert metrics is not None and metrics.train.steps is not None
    assert metrics.train.steps < MAX_STEPS
    reason = metrics.train.stop_reason
    assert reason is not None and reason.startswith(f"stopped early at step {metrics.train.steps} of {MAX_STEPS}")
    assert "did not improve for 2 evaluations" in reason
    curve = _curve(run)
    best = min(loss for step, loss in curve.items() if step > 0)
    assert curve[metrics.train.steps] >= best and curve[metrics.train.steps - 1] >= best  # the last 2 evaluations did not beat it
    assert _early_stop(run) == reason  # what the worker writes as the ready status's reason


def test_load_best_keeps_the_best_earlier_step_and_scores_it(run: Run) -> None:
    metrics = run.metrics()
    assert metrics is not None
    curve = _curve(run)
    scored = {step: loss for step, loss in curve.items() if step > 0}
    best_step = min(scored, key=lambda s: (scored[s], s))
    assert metrics.train.kept_step == best_step
    assert best_step < metrics.train.steps  # an earlier step than the last
    assert metrics.custom.loss == pytest.approx(scored[best_step], rel=1e-4)  # the custom score is the kept checkpoint's
    assert any("kept the checkpoint of step" in getattr(e, "message", "") for _, e in run.events())


def test_samples_are_written_worse_first_with_both_outputs_and_losses(run: Run) -> None:
    samples = read_samples(run)
    assert samples is not None and len(samples) == 3
    flags = [s.worse for s in samples]
    assert flags == sorted(flags, reverse=True)  # worse ones first
    for s in samples:
        assert s.prompt and s.reference and s.baseline_loss is not None and s.custom_loss is not None
        assert s.worse == (s.custom_loss > s.baseline_loss or bool(s.baseline_contains and not s.custom_contains))
        assert s.custom_exact == exact(s.custom, s.reference) and s.baseline_contains == contains(s.baseline, s.reference)
    assert any(s.baseline_loss != pytest.approx(s.custom_loss) for s in samples)  # two different models were scored
    metrics = run.metrics()
    assert metrics is not None and metrics.samples is not None
    assert metrics.samples.count == 3 and metrics.samples.worse == sum(flags)
    assert metrics.samples.custom_contains == sum(bool(s.custom_contains) for s in samples) / 3


def test_plan_defaults_to_about_ten_evaluations_on_a_fixed_sample() -> None:
    train = TrainConfig(max_steps=95)
    encoded = [Encoded([1, 2, 3], [-100, 2, 3]) for _ in range(300)]
    plan = EvalPlan.make(train, rows=10, encoded_eval=encoded)
    assert plan.every == 10 and 95 / plan.every <= EVALS_PER_RUN
    assert plan.sample == eval_sample(encoded, train.seed) and len(plan.sample) < len(encoded)
    assert total_steps(TrainConfig(epochs=2, batch_size=4, grad_accum=2), rows=17) == 6  # 5 batches, 3 updates per epoch
    best = EvalPlan.make(TrainConfig(max_steps=40, load_best=True, save_steps=7), rows=10, encoded_eval=encoded)
    assert best.arguments()["save_steps"] == best.every == 4 and best.arguments()["load_best_model_at_end"] is True
    off = EvalPlan.make(TrainConfig(max_steps=40, eval_steps=0), rows=10, encoded_eval=encoded)
    assert off.arguments()["eval_strategy"] == "no" and not off.callbacks()
    unscored = EvalPlan.make(train, rows=10, encoded_eval=[Encoded([1, 2], [-100, -100])])
    assert unscored.every == 0  # nothing to score: no evaluation rather than a NaN


def test_the_defaults_keep_the_best_checkpoint_whenever_there_are_evaluations() -> None:
    """A default run keeps its best eval checkpoint (a haiku run's eval loss was lowest at step 36 of 120, and the
    last was kept); with no evaluations there is nothing to choose by, and that is no error."""
    from tui.parser import build_parser

    encoded = [Encoded([1, 2, 3], [-100, 2, 3]) for _ in range(10)]
    plan = EvalPlan.make(TrainConfig(max_steps=40), rows=10, encoded_eval=encoded)
    assert plan.load_best and plan.arguments()["load_best_model_at_end"] is True and "the best checkpoint is kept" in plan.describe()
    never = EvalPlan.make(TrainConfig(max_steps=40, eval_steps=0), rows=10, encoded_eval=encoded)
    assert not never.load_best and never.arguments()["eval_strategy"] == "no"
    parser, _ = build_parser()
    assert parser.parse_args(["train", "d.txt", "--no-load-best"]).load_best is False


def test_the_latest_checkpoint_at_the_lowest_eval_loss_is_kept_not_noise_before_it() -> None:
    """A facts run's eval curve (4 held-out questions on facts never trained): flat from step 45, and the strict
    lowest at 45 kept the adapter from before the training questions were learnt. The Trainer keeps the last
    checkpoint whose score beat the best so far, strictly lower."""
    from engine.train.eval_steps import keep_score

    curve = [(15, 2.8098), (30, 1.9283), (45, 1.7780), (60, 1.8212), (75, 1.7785), (90, 1.8062), (105, 1.8309)]
    haiku = [(15, 4.7877), (30, 4.6106), (45, 4.6674), (60, 4.9204), (75, 5.1684)]
    for points, expected in ((curve, 75), (haiku, 30)):
        best, kept = math.inf, None
        for i, (step, _) in enumerate(points):
            score = keep_score([loss for _, loss in points[: i + 1]], step)
            if score < best:
                best, kept = score, step
        assert kept == expected
    assert keep_score([], 10) == math.inf


def test_settings_that_need_evaluations_refuse_eval_steps_0() -> None:
    from engine.config import ConfigError

    with pytest.raises(ConfigError, match="train.early_stop needs evaluations"):
        TrainConfig(eval_steps=0, early_stop=3)


def test_an_old_run_reads_without_samples_or_eval_curve() -> None:
    old = Run(Path(__file__).parent / "fixtures" / "runs" / "20261130-165959-oldformat")
    metrics = old.metrics()
    assert metrics is not None and metrics.samples is None and metrics.train.eval_curve == () and metrics.train.kept_step is None
    assert read_samples(old) is None
    assert all(e.step is None for _, e in old.events() if isinstance(e, EvalEvent))
