"""Training defaults chosen from the model and the data: learning rate, epochs, a step cap, LoRA rank.

One fixed setting cannot suit a 6M-parameter model and a 7B one, or 300
examples and 300,000. The rule, in one place:

- **Learning rate** from the model's size. Small models need larger LoRA
  learning rates: ``3e-3 x (params / 6M) ** -0.38``, which gives 3e-3 for
  a 6M model, 2.6e-3 for finetui-tiny (8.9M), about 4e-4 for a 1B model and 2e-4 for a 7B one (the
  usual QLoRA setting), kept within [1e-4, 3e-3].
- **Epochs** from the data's size. A small dataset needs several passes
  before the adapter learns it (facts.jsonl needs about forty on
  finetui-tiny: at twenty it answered 1 of 4 questions, at forty 4 of 4):
  as many whole passes as fit in ``TARGET_TOKENS`` training tokens, at
  most ``TOKEN_PASSES``. A dataset over half the target gets one pass
  (shakespeare.txt, 370k tokens: 181 steps, about 5 minutes here).
- **At least ``MIN_STEPS`` optimizer steps.** An adapter learns from
  updates, not only from tokens: a file of a few dozen short facts packs
  into one or two sequences, so forty passes are forty steps, and forty
  steps taught finetui-tiny the answers' form but not which question each
  belongs to (``bench/defaults.py``: 40 people x 4 questions, 4 of 40
  answered after 40 steps, 36 of 40 after 200, the best eval checkpoint at
  step 80; 18 people's names in seven scripts: 7 of 36 after 150 steps, 30
  of 36 after 300). Small data (more than one pass by tokens) gets as many
  more passes as make ``MIN_STEPS`` steps, at most ``MAX_EPOCHS``; the best checkpoint is kept
  (``train.load_best``), so passes past the point of learning cost time,
  not quality.
- **A step cap** on a machine without a GPU: no more steps than about
  ``CPU_BUDGET_S`` (8 minutes) of training on 2 CPU cores (the speed guess of
  ``engine.estimate``), so that a first run of a sample file takes minutes.
- **LoRA rank** from the data's size: 16, doubled for every tenfold past a
  million training tokens (at most 64): more to learn needs more capacity.
  Alpha is twice the rank, the usual scale.

Each value comes with a short ``why``; the CLI prints it and the train
screen shows it beside the field. Whatever the user sets wins: ``apply``
fills in only the settings left unset, and the run saves the result in its
``config.json``. No torch here: the TUI imports this.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Iterable
from dataclasses import dataclass

from engine.config import RunConfig
from engine.estimate import CPU_RATE_TIMES_PARAMS, TokenStats, steps_per_epoch
from engine.words import counted

#: The learning rate a ~6M-parameter model needs, and how it falls with size (the exponent).
SMALL_MODEL_LR = 3e-3
SMALL_MODEL_PARAMS = 6e6
LR_EXPONENT = -0.38
LR_RANGE = (1e-4, 3e-3)
#: Training tokens a run should see, going round a small dataset as many whole times as fit (at most ``TOKEN_PASSES``).
TARGET_TOKENS = 600_000
TOKEN_PASSES = 40
#: Optimizer steps a run should take at least, going round a small dataset more often; never more than ``MAX_EPOCHS`` passes.
MIN_STEPS = 300
MAX_EPOCHS = 200
#: Seconds of training a default run may take on 2 CPU cores (no GPU).
CPU_BUDGET_S = 480.0
#: LoRA rank for up to ``RANK_TOKENS`` training tokens; doubled per tenfold beyond, up to ``MAX_RANK``.
BASE_RANK = 16
RANK_TOKENS = 1_000_000
MAX_RANK = 64
#: The settings this rule chooses, as ``section.name`` paths of ``RunConfig``.
SETTINGS = ("train.lr", "train.epochs", "train.max_steps", "lora.r", "lora.alpha")


@dataclass(frozen=True)
class Choice:
    """A default and where it came from, in a few words."""

    value: float | int | None
    why: str


@dataclass(frozen=True)
class DataSize:
    """What the rule needs to know about the data: training tokens, and optimizer steps in one pass."""

    train_tokens: int
    steps_per_epoch: int


def choose(params: int | None, data: DataSize, gpu: bool = False) -> dict[str, Choice]:
    """The defaults for a model of ``params`` parameters (None: unknown) and ``data``, by setting path."""
    chosen = {"train.lr": _lr(params)}
    epochs, steps = _epochs_and_cap(params, data, gpu)
    chosen["train.epochs"] = epochs
    chosen["train.max_steps"] = steps
    rank = _rank(data.train_tokens)
    chosen["lora.r"] = rank
    chosen["lora.alpha"] = Choice(2 * int(rank.value or BASE_RANK), "2 × r")
    return chosen


def _lr(params: int | None) -> Choice:
    if not params:
        return Choice(2e-4, "model size unknown: the usual QLoRA rate")
    raw = SMALL_MODEL_LR * (params / SMALL_MODEL_PARAMS) ** LR_EXPONENT
    value = float(f"{min(max(raw, LR_RANGE[0]), LR_RANGE[1]):.2g}")
    return Choice(value, f"{_millions(params)} params: small models need larger rates")


def _epochs_and_cap(params: int | None, data: DataSize, gpu: bool) -> tuple[Choice, Choice]:
    tokens = max(1, data.train_tokens)
    per_epoch = max(1, data.steps_per_epoch)
    by_tokens = min(TOKEN_PASSES, max(1, TARGET_TOKENS // tokens))
    by_steps = min(MAX_EPOCHS, math.ceil(MIN_STEPS / per_epoch)) if by_tokens > 1 else 1  # one pass of large data is enough
    epochs = max(by_tokens, by_steps)
    if by_steps > by_tokens:
        why = f"{counted(per_epoch, 'step')} a pass: {epochs} passes, {epochs * per_epoch} steps"
    elif epochs > 1:
        why = f"{tokens:,} train tokens: small data, {epochs} passes"
    else:
        why = f"{tokens:,} train tokens: one pass"
    epoch_choice = Choice(float(epochs), why)
    if gpu or not params:
        reason = "a GPU: no cap" if gpu else "model size unknown: no cap"
        return epoch_choice, Choice(None, reason)
    rate = CPU_RATE_TIMES_PARAMS / params
    tokens_per_step = tokens / max(1, data.steps_per_epoch)
    cap = max(1, int(CPU_BUDGET_S * rate / tokens_per_step))
    if cap >= data.steps_per_epoch * epochs:
        return epoch_choice, Choice(None, f"no cap: {CPU_BUDGET_S / 60:g} min on 2 CPUs")
    return epoch_choice, Choice(cap, f"capped: {CPU_BUDGET_S / 60:g} min on 2 CPUs")


def _rank(train_tokens: int) -> Choice:
    if train_tokens <= RANK_TOKENS:
        return Choice(BASE_RANK, f"{BASE_RANK} under {RANK_TOKENS / 1e6:g}M tokens")
    doublings = math.ceil(math.log10(train_tokens / RANK_TOKENS))
    rank = min(MAX_RANK, BASE_RANK * 2**doublings)
    return Choice(rank, f"{rank} for {train_tokens / 1e6:,.1f}M tokens")


def _millions(params: int) -> str:
    return f"{params / 1e6:,.1f}M" if params < 1e9 else f"{params / 1e9:,.1f}B"


def data_size(config: RunConfig, tokens: TokenStats, train_share: float) -> DataSize:
    """The training tokens and steps per epoch of ``config``'s data, as ``engine.estimate`` counts them."""
    return DataSize(round(tokens.trained * train_share), steps_per_epoch(config, tokens, train_share))


def has_gpu() -> bool:
    """Whether training will likely run on a GPU here (``nvidia-smi`` on the PATH; no torch import)."""
    return shutil.which("nvidia-smi") is not None


def apply(config: RunConfig, chosen: dict[str, Choice], user_set: Iterable[str]) -> RunConfig:
    """``config`` with each chosen default in place of the settings the user did not set.

    The length of the run is one choice: a user who sets epochs or max steps
    chose it, and neither the rule's epochs nor its cap apply. Alpha left
    unset follows the rank, whoever chose it (twice it).
    """
    mine = set(user_set)
    if mine & {"train.epochs", "train.max_steps"}:
        mine |= {"train.epochs", "train.max_steps"}
    sections: dict[str, dict[str, object]] = {"train": {}, "lora": {}}
    for path, choice in chosen.items():
        if path not in mine:
            section, name = path.split(".")
            sections[section][name] = choice.value
    if "lora.alpha" not in mine:
        sections["lora"]["alpha"] = 2 * int(sections["lora"].get("r", config.lora.r))  # type: ignore[call-overload]
    return dataclasses.replace(
        config,
        train=dataclasses.replace(config.train, **sections["train"]),
        lora=dataclasses.replace(config.lora, **sections["lora"]),
    )
