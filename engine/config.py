"""The run configuration: one typed, validated dataclass tree with defaults that work.

Every run saves its resolved config as ``config.json``; ``RunConfig.from_dict``
reads it back and checks it, so a hand-edited or stale file fails with a
message naming the bad field instead of deep inside training.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Quant = Literal["4bit", "8bit", "none"]
QUANTS: tuple[str, ...] = ("4bit", "8bit", "none")
DEFAULT_MODEL = "finetui-tiny"


class ConfigError(ValueError):
    """A config value is out of range; the message names the field."""


def _check(condition: bool, name: str, value: object, need: str) -> None:
    if not condition:
        raise ConfigError(f"{name} must be {need}, not {value!r}")


@dataclass
class DataConfig:
    """Which file to train on and how to read it."""

    path: str = field(metadata={"help": "the data file, as given by the user (resolved to an absolute path)"})
    format: str | None = field(default=None, metadata={"help": "a file format (txt, json, jsonl, csv, tsv, parquet) or a record layout (alpaca, sharegpt, ...); None detects it"})
    separator: str | None = field(default=None, metadata={"help": "string between examples in a .txt"})
    mapping: str | None = field(default=None, metadata={"help": "columns holding the fields, e.g. prompt=question,completion=answer"})
    eval_fraction: float = field(default=0.1, metadata={"help": "share of examples held out for the scorecard"})

    def __post_init__(self) -> None:
        _check(0.0 < self.eval_fraction < 1.0, "data.eval_fraction", self.eval_fraction, "between 0 and 1")


@dataclass
class ModelConfig:
    """The base model and how it is loaded."""

    name: str = field(default=DEFAULT_MODEL, metadata={"help": "bundled name, local folder, hub id or cached model"})
    quant: str = field(default="4bit", metadata={"help": "4bit (NF4, double quantization), 8bit or none"})
    trust_remote_code: bool = field(default=False, metadata={"help": "allow a model that ships its own Python code"})

    def __post_init__(self) -> None:
        _check(self.quant in QUANTS, "model.quant", self.quant, f"one of {', '.join(QUANTS)}")
        _check(bool(self.name), "model.name", self.name, "a model name or path")


@dataclass
class LoraConfig:
    """The LoRA adapter: rank, scaling and dropout, on all linear layers."""

    r: int = field(default=16, metadata={"help": "rank of the update matrices"})
    alpha: int = field(default=32, metadata={"help": "scaling: the update is multiplied by alpha / r"})
    dropout: float = field(default=0.05, metadata={"help": "dropout on the adapter's input"})

    def __post_init__(self) -> None:
        _check(self.r >= 1, "lora.r", self.r, "at least 1")
        _check(self.r <= 4096, "lora.r", self.r, "at most 4,096")
        _check(self.alpha >= 1, "lora.alpha", self.alpha, "at least 1")
        _check(self.alpha <= 65536, "lora.alpha", self.alpha, "at most 65,536")
        _check(0.0 <= self.dropout < 1.0, "lora.dropout", self.dropout, "in [0, 1)")


#: Bounds past which a number can only be a typo, and would overflow the Trainer's step counts.
MAX_EPOCHS = 10_000
MAX_STEPS = 100_000_000


@dataclass
class TrainConfig:
    """Optimisation settings. ``max_steps`` wins over ``epochs`` when set."""

    epochs: float = field(default=3.0, metadata={"help": "passes over the training split"})
    max_steps: int | None = field(default=None, metadata={"help": "stop after this many optimizer steps"})
    lr: float = field(default=2e-4, metadata={"help": "peak learning rate (cosine decay, 3% warmup)"})
    batch_size: int = field(default=4, metadata={"help": "packed sequences per step and device"})
    grad_accum: int = field(default=1, metadata={"help": "steps whose gradients are summed before an update"})
    seq_len: int = field(default=512, metadata={"help": "tokens per packed sequence; longer examples are truncated"})
    seed: int = field(default=0, metadata={"help": "seed for the split, the adapter init and the data order"})
    save_steps: int = field(default=20, metadata={"help": "write a checkpoint every this many steps"})
    logging_steps: int = field(default=1, metadata={"help": "log train metrics every this many steps"})
    packing: bool = field(default=True, metadata={"help": "pack examples into full sequences instead of padding"})

    def __post_init__(self) -> None:
        _check(self.epochs > 0, "train.epochs", self.epochs, "positive")
        _check(self.epochs <= MAX_EPOCHS, "train.epochs", self.epochs, f"at most {MAX_EPOCHS:,}")
        _check(self.max_steps is None or self.max_steps >= 1, "train.max_steps", self.max_steps, "at least 1")
        _check(self.max_steps is None or self.max_steps <= MAX_STEPS, "train.max_steps", self.max_steps, f"at most {MAX_STEPS:,}")
        _check(0 <= self.seed < 2**32, "train.seed", self.seed, "between 0 and 2**32 - 1")
        _check(0 < self.lr < 1, "train.lr", self.lr, "between 0 and 1")
        _check(self.batch_size >= 1, "train.batch_size", self.batch_size, "at least 1")
        _check(self.batch_size <= 65536, "train.batch_size", self.batch_size, "at most 65,536")
        _check(self.grad_accum >= 1, "train.grad_accum", self.grad_accum, "at least 1")
        _check(self.grad_accum <= 65536, "train.grad_accum", self.grad_accum, "at most 65,536")
        _check(self.seq_len >= 8, "train.seq_len", self.seq_len, "at least 8")
        _check(self.seq_len <= 1_048_576, "train.seq_len", self.seq_len, "at most 1,048,576")
        _check(1 <= self.save_steps <= MAX_STEPS, "train.save_steps", self.save_steps, f"between 1 and {MAX_STEPS:,}")
        _check(1 <= self.logging_steps <= MAX_STEPS, "train.logging_steps", self.logging_steps, f"between 1 and {MAX_STEPS:,}")


@dataclass
class RunConfig:
    """Everything a training run needs, saved as the run's ``config.json``."""

    name: str
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Rebuild and validate a config; unknown or mistyped keys raise ``ConfigError``."""
        sections = {"data": DataConfig, "model": ModelConfig, "lora": LoraConfig, "train": TrainConfig}
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "name":
                kwargs[key] = str(value)
            elif key in sections:
                kwargs[key] = _section(sections[key], key, value)
            else:
                raise ConfigError(f"unknown config key {key!r}")
        if "data" not in kwargs or "name" not in kwargs:
            raise ConfigError("config needs 'name' and 'data'")
        return cls(**kwargs)


def _section(kind: type, name: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be an object, not {type(value).__name__}")
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(value) - known
    if unknown:
        raise ConfigError(f"unknown key {name}.{sorted(unknown)[0]}")
    try:
        return kind(**value)
    except TypeError as exc:
        raise ConfigError(f"{name}: {exc}") from None
