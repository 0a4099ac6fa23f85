"""The rule that chooses training defaults from the model's size and the data's (engine.train.defaults)."""

from __future__ import annotations

import pytest

from engine.config import DataConfig, RunConfig
from engine.data import DataSpec
from engine.estimate import count_tokens, estimate_run, model_facts
from engine.paths import SAMPLE_DATA
from engine.train.defaults import (
    BASE_RANK,
    CPU_BUDGET_S,
    MAX_EPOCHS,
    MAX_RANK,
    MIN_STEPS,
    SETTINGS,
    TOKEN_PASSES,
    DataSize,
    apply,
    choose,
    data_size,
)

TINY = 5_868_800


def test_small_models_get_larger_learning_rates_and_7b_the_usual_qlora_rate() -> None:
    data = DataSize(50_000, 50)
    rates = [choose(params, data)["train.lr"].value for params in (6e6, 25e6, 125e6, 1e9, 7e9, 70e9)]
    assert rates[0] == pytest.approx(3e-3)
    assert rates == sorted(rates, reverse=True) and len(set(rates)) > 4, "falls with size"
    assert rates[-2] == pytest.approx(2e-4, rel=0.1), "7B: the usual QLoRA learning rate"
    assert rates[-1] == pytest.approx(1e-4), "never below the floor"
    assert "params" in choose(TINY, data)["train.lr"].why
    assert choose(None, data)["train.lr"].value == 2e-4, "size unknown: the usual rate, and it says so"


def test_small_data_gets_several_epochs_large_data_one() -> None:
    small = choose(TINY, DataSize(4_000, 4), gpu=True)["train.epochs"]
    facts = choose(TINY, DataSize(14_000, 14), gpu=True)["train.epochs"]
    large = choose(TINY, DataSize(2_000_000, 2_000), gpu=True)["train.epochs"]
    assert 10 <= facts.value <= TOKEN_PASSES and large.value == 1
    assert small.value * 4 >= MIN_STEPS and "passes" in facts.why and "one pass" in large.why


def test_a_file_that_packs_into_a_step_or_two_still_gets_enough_steps_to_learn() -> None:
    """40 short facts pack into one sequence a step: forty passes were forty steps, too few to bind answers to questions."""
    tiny = choose(TINY, DataSize(600, 1), gpu=True)["train.epochs"]
    two = choose(TINY, DataSize(3_000, 2), gpu=True)["train.epochs"]
    passes = min(MIN_STEPS, MAX_EPOCHS)
    assert tiny.value == passes and two.value * 2 >= MIN_STEPS
    assert tiny.why == f"1 step a pass: {passes} passes, {passes} steps"
    assert choose(TINY, DataSize(10, 0), gpu=True)["train.epochs"].value <= MAX_EPOCHS, "never more than MAX_EPOCHS passes"
    shakespeare = choose(TINY, DataSize(370_000, 181), gpu=True)["train.epochs"]
    assert shakespeare.value == 1, "one pass of large data is enough, whatever its steps"


def test_without_a_gpu_the_steps_are_capped_to_minutes_on_two_cores() -> None:
    big = DataSize(2_000_000, 2_000)
    capped = choose(TINY, big)["train.max_steps"]
    assert capped.value is not None and capped.value < 2_000
    tokens_per_step = big.train_tokens / big.steps_per_epoch
    from engine.estimate import CPU_RATE_TIMES_PARAMS

    assert capped.value * tokens_per_step / (CPU_RATE_TIMES_PARAMS / TINY) <= CPU_BUDGET_S
    assert choose(TINY, big, gpu=True)["train.max_steps"].value is None, "a GPU is not capped"
    assert choose(TINY, DataSize(14_000, 14))["train.max_steps"].value is None, "a run that fits needs no cap"


def test_rank_grows_with_the_data_and_alpha_is_twice_it() -> None:
    ranks = [choose(TINY, DataSize(n, 100))["lora.r"].value for n in (10_000, 1_000_000, 5_000_000, 50_000_000, 10**10)]
    assert ranks == [BASE_RANK, BASE_RANK, 2 * BASE_RANK, 4 * BASE_RANK, MAX_RANK]
    chosen = choose(TINY, DataSize(5_000_000, 100))
    assert chosen["lora.alpha"].value == 2 * chosen["lora.r"].value
    assert set(chosen) == set(SETTINGS) and all(c.why for c in chosen.values()), "every default says why"


def test_what_the_user_sets_wins() -> None:
    config = RunConfig("x", DataConfig("d.txt"))
    chosen = choose(TINY, DataSize(2_000_000, 2_000))
    resolved = apply(config, chosen, set())
    assert (resolved.train.lr, resolved.train.epochs, resolved.train.max_steps) == (chosen["train.lr"].value, 1.0, chosen["train.max_steps"].value)
    assert (resolved.lora.r, resolved.lora.alpha) == (32, 64)

    config.train.lr, config.train.epochs, config.lora.r = 1e-4, 2.0, 8
    mine = apply(config, chosen, {"train.lr", "train.epochs", "lora.r"})
    assert (mine.train.lr, mine.train.epochs, mine.lora.r) == (1e-4, 2.0, 8)
    assert mine.train.max_steps is None, "epochs given: the run's length is the user's, no cap"
    assert mine.lora.alpha == 16, "alpha left unset follows the user's rank"


@pytest.mark.slow
def test_the_sample_files_train_for_minutes_with_the_defaults_on_the_bundled_model() -> None:
    """The rule applied to the real files and model: facts and haiku go round many times, Shakespeare once,
    each within the CPU budget by the estimate's own speed guess."""
    facts = model_facts("finetui-tiny")
    seen = {}
    for name, separator in (("facts.jsonl", None), ("haiku.txt", "--SEPARATOR--"), ("shakespeare.txt", None)):
        config = RunConfig(name, DataConfig(str(SAMPLE_DATA / name), separator=separator))
        tokens = count_tokens(DataSpec(SAMPLE_DATA / name, separator=separator), facts, config.train.seq_len)
        resolved = apply(config, choose(facts.params, data_size(config, tokens, 0.9)), set())
        estimate = estimate_run(resolved, tokens, 0.9, facts)
        seen[name] = resolved.train.epochs
        assert resolved.train.lr >= 1e-3
        assert estimate.seconds is not None and estimate.seconds < 2 * CPU_BUDGET_S
    assert seen["facts.jsonl"] >= 10 and seen["haiku.txt"] >= 10 and seen["shakespeare.txt"] == 1


def test_finetui_train_fills_in_what_its_flags_leave_unset_and_says_why() -> None:
    from engine.runs.lifecycle import validate_data
    from tui.commands.train import build_config, choose_defaults, user_settings
    from tui.parser import build_parser

    parser, _ = build_parser()
    args = parser.parse_args(["train", str(SAMPLE_DATA / "haiku.txt"), "--separator=--SEPARATOR--", "--lr", "0.001", "--lora-r", "8"])
    config = build_config(args)
    resolved, lines = choose_defaults(config, validate_data(config), user_settings(args))
    assert (resolved.train.lr, resolved.lora.r, resolved.lora.alpha) == (0.001, 8, 16)
    assert resolved.train.epochs >= TOKEN_PASSES, "haiku.txt is small: many passes"
    shown = "\n".join(lines)
    assert "train.lr         0.001    given" in shown and "lora.r           8        given" in shown
    assert f"passes, {MIN_STEPS} steps" in shown and "lora.alpha       16       2 × r" in shown
