"""Samples are generated several examples to a batch: the same completions and losses as one example at a time; a cancel stops them at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import DataConfig, RunConfig, TrainConfig
from engine.data import Example
from engine.runs import RunStore
from engine.train import samples as samples_module
from engine.train.samples import SAMPLE_BATCH, _batches, _Job, generate_samples, make_samples, samples_path
from tests.tiny_model import CORPUS, make_adapter, make_model


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory):
    """The tiny model with a random adapter named ``default`` on it, as the worker holds it after training."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("samples-batch")
    model_dir = make_model(root / "model")
    make_adapter(model_dir, root / "adapter", seed=1)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), str(root / "adapter"))
    return model, AutoTokenizer.from_pretrained(model_dir)


def _examples() -> list[Example]:
    """Prompts of many lengths, so that the batches are left-padded, and both kinds of example."""
    words = CORPUS.split()
    out = []
    for i in range(11):
        if i % 3 == 0:
            out.append(Example(i, i + 1, "prompt_completion", prompt=" ".join(words[: 2 + i]), completion=" " + " ".join(words[i : i + 3])))
        else:
            out.append(Example(i, i + 1, "text", text=" ".join(words[i : i + 4 + 2 * i])))
    return out


@pytest.mark.slow
def test_a_batch_of_examples_writes_what_one_example_at_a_time_writes(custom, monkeypatch: pytest.MonkeyPatch) -> None:
    model, tokenizer = custom
    seen: list[tuple[int, int]] = []
    batched = generate_samples(model, tokenizer, _examples(), 64, progress=lambda done, total: seen.append((done, total)))
    monkeypatch.setattr(samples_module, "SAMPLE_BATCH", 1)
    alone = generate_samples(model, tokenizer, _examples(), 64)
    assert len(batched) == len(alone) == 11
    assert seen == [(8, 11), (11, 11)]  # two batches, each reported
    by_index = {s.index: s for s in alone}
    for s in batched:
        one = by_index[s.index]
        assert (s.baseline, s.custom) == (one.baseline, one.custom)
        assert s.baseline_loss == pytest.approx(one.baseline_loss, abs=1e-4) and s.custom_loss == pytest.approx(one.custom_loss, abs=1e-4)
    assert any(s.baseline != s.custom for s in batched)  # the adapter's row is not the baseline's


def _job(prompt: int, new: int) -> _Job:
    return _Job(Example(0, 1, "text", text="x"), [1] * prompt, [2], new)


def test_batches_keep_the_order_and_never_reach_past_the_context() -> None:
    jobs = [_job(p, n) for p, n in [(10, 5), (40, 20), (5, 50), (60, 4), (2, 2)] + [(3, 3)] * 9]
    groups = _batches(jobs, context=64)
    assert [job for group in groups for job in group] == jobs
    for group in groups:
        assert len(group) <= SAMPLE_BATCH
        assert max(len(j.prompt) for j in group) + max(j.new for j in group) <= 64
    assert [len(g) for g in groups] == [2, 1, 8, 3]  # (60, 4) and (2, 2) fit together; (5, 50) fits with neither neighbour


def test_a_cancel_stops_the_samples_between_and_within_batches(custom) -> None:
    model, tokenizer = custom
    asked: list[int] = []
    after: list[int] = []

    def should_stop() -> bool:
        if asked:
            after.append(1)
        return bool(asked)

    done = generate_samples(model, tokenizer, _examples(), 64, progress=lambda d, t: asked.append(d), should_stop=should_stop)
    assert len(done) == 8 and asked == [8]  # the first batch; the second is cut short and dropped
    assert len(after) == 2  # asked once by generate, which stopped at its first token, and once after it


def test_a_cancelled_run_writes_no_samples(custom, tmp_path: Path) -> None:
    model, tokenizer = custom
    config = RunConfig("c", DataConfig(str(tmp_path / "d.txt")), train=TrainConfig(samples=11, seq_len=64))
    run = RunStore(tmp_path / "runs").create(config)
    assert make_samples(run, model, tokenizer, _examples(), config, should_stop=lambda: True) is None
    assert not samples_path(run).exists()
    rates = make_samples(run, model, tokenizer, _examples(), config)
    assert rates is not None and rates.count == 11 and samples_path(run).is_file()
