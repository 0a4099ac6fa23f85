"""The estimate before a run: token counts match training's, steps match the packer's, speed comes from past runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.data import DataSpec, split_examples
from engine.estimate import count_parameters, count_tokens, estimate_run, measured_speed, model_facts, token_lengths
from engine.paths import SAMPLE_DATA
from engine.runs import RunStore
from engine.train.packing import pack
from engine.train.tokenize import encode, encode_windows

HAIKU = DataSpec(SAMPLE_DATA / "haiku.txt", separator="--SEPARATOR--")
FACTS = DataSpec(SAMPLE_DATA / "facts.jsonl")
SHAKESPEARE = DataSpec(SAMPLE_DATA / "shakespeare.txt")


@pytest.fixture(scope="module")
def tiny():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = SAMPLE_DATA / "models" / "finetui-tiny"
    return folder, AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)


def test_parameter_count_from_safetensors_headers_matches_the_model(tiny):
    folder, _, model = tiny
    assert count_parameters(folder) == model.num_parameters()
    facts = model_facts("finetui-tiny")
    assert facts.context == model.config.max_position_embeddings and facts.params == model.num_parameters()


@pytest.mark.parametrize("spec", [HAIKU, FACTS], ids=["text", "prompt_completion"])
def test_token_lengths_are_the_lengths_training_encodes(tiny, spec):
    _, tokenizer, _ = tiny
    train, _ = split_examples(spec, 0.1, 0)
    counted = [n for n, _ in token_lengths(train, model_facts("finetui-tiny"))]
    assert counted == [len(encode(e, tokenizer, 10**6)) for e in train]


@pytest.mark.slow
def test_estimated_steps_match_the_packed_rows(tiny):
    """Windows of long text and first-fit packing: the estimate is within a few percent of what training does."""
    _, tokenizer, _ = tiny
    facts = model_facts("finetui-tiny")
    for spec in (HAIKU, SHAKESPEARE):
        config = RunConfig(name="x", data=DataConfig(str(spec.path), separator=spec.separator), train=TrainConfig(epochs=1, batch_size=4))
        tokens = count_tokens(spec, facts, config.train.seq_len)
        train, _ = split_examples(spec, 0.1, 0)
        rows = pack([w for e in train for w in encode_windows(e, tokenizer, tokens.seq_len)], tokens.seq_len)
        real_steps = math.ceil(len(rows) / 4)
        estimate = estimate_run(config, tokens, len(train) / tokens.examples, facts)
        assert abs(estimate.steps - real_steps) <= max(1, 0.05 * real_steps), (spec.path.name, estimate.steps, real_steps)


def test_max_steps_wins_and_an_unknown_model_has_no_time(tmp_path):
    facts = model_facts("finetui-tiny")
    tokens = count_tokens(HAIKU, facts, 512)
    config = RunConfig(name="x", data=DataConfig(str(HAIKU.path)), train=TrainConfig(max_steps=7))
    assert estimate_run(config, tokens, 0.9, facts).steps == 7
    missing = model_facts(str(tmp_path / "no-such-model"))
    assert missing.path is None and missing.note
    assert estimate_run(config, tokens, 0.9, missing).seconds is None


def _finished_run(store: RunStore, model: str, rate: float, created: float) -> str:
    run = store.create(RunConfig(name="r", data=DataConfig("d.txt"), model=ModelConfig(model)))
    status = run.status()
    status.created_at, status.started_at = created, 1000.0
    run.write_status(status.moved("ready", started_at=1000.0, ended_at=1100.0))
    run.metrics_path.write_text(json.dumps({"train": {"tokens_per_s": rate, "train_time_s": 80.0}}))
    return run.id


def test_the_speed_comes_from_the_newest_ready_run_of_the_same_model(tmp_path: Path):
    store = RunStore(tmp_path / "runs")
    assert measured_speed("finetui-tiny", "4bit", store) is None
    _finished_run(store, "finetui-tiny", 100.0, created=1.0)
    newest = _finished_run(store, "finetui-tiny", 250.0, created=2.0)
    _finished_run(store, "other-model", 9999.0, created=3.0)
    speed = measured_speed("finetui-tiny", "4bit", store)
    assert speed is not None and speed.run_id == newest and speed.tokens_per_s == 250.0 and speed.overhead_s == 20.0
    facts = model_facts("finetui-tiny")
    tokens = count_tokens(HAIKU, facts, 512)
    config = RunConfig(name="x", data=DataConfig(str(HAIKU.path)), train=TrainConfig(max_steps=10, batch_size=2))
    estimate = estimate_run(config, tokens, 0.9, facts, store)
    rows = math.ceil(tokens.trained * 0.9 / tokens.seq_len)
    assert estimate.train_tokens == round(10 * tokens.trained * 0.9 / math.ceil(rows / 2))
    assert estimate.seconds == pytest.approx(estimate.train_tokens / 250.0 + 20.0)
    assert estimate.measured_by == newest
