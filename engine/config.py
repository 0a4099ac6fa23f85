"""The run configuration: one typed, validated dataclass tree with defaults that work.

Every run saves its resolved config as ``config.json``; ``RunConfig.from_dict``
reads it back and checks it, so a hand-edited or stale file fails with a
message naming the bad field instead of deep inside training.

Each setting is declared once, here: its field carries a ``Setting`` (help,
label, flag, bounds, choices) from which ``finetui train`` builds its flags
and the train screen its form, and by which the field is checked. A new
setting needs only its field. ``ConfigError`` names the field by its path
(``train.lr``), so each front end can point at its own flag or field.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from engine.errors import FinetuiError, Hint
from engine.gpu import ATTENTIONS, OPTIMS, PRECISIONS, SWITCHES
from engine.models.load import QUANTS
from engine.models.resolve import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "QUANTS", "ConfigError", "RunConfig", "Setting", "SettingField", "setting", "settings"]

Form = Literal["model", "settings", "data", "cli"]


@dataclass(frozen=True)
class Setting:
    """How one setting is described, given and checked: the single declaration both front ends read.

    Like harlequin's ``AbstractOption``: the CLI makes its flag from it, the
    TUI its field, and ``__post_init__`` its check.
    """

    help: str
    """One line for ``--help`` and the field's tooltip."""
    label: str = ""
    """The train screen's label, at most 10 characters."""
    flag: str = ""
    """The ``finetui train`` option; empty when the command takes the value otherwise (the data file)."""
    short: str = ""
    metavar: str | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """The bound ``low`` itself is out of range."""
    high_open: bool = False
    choices: tuple[str, ...] = ()
    default_help: str = ""
    """How the value is chosen when not given, where it is not simply the field's default."""
    exclusive: str = ""
    """Settings sharing this name are alternatives: the CLI accepts one of them."""
    confirm: str = ""
    """What turning this on means, for a confirmation before a run starts with it on."""
    form: Form = "settings"
    """Where the TUI takes it: the model panel, the settings grid, or the data screen (the file and how to read it);
    ``cli``: only ``finetui train`` (multi-node details: every other machine needs a command of its own anyway)."""

    def need(self, value: float) -> str | None:
        """What a number must be, in words, or None when ``value`` is in range (NaN never is)."""
        both_open = self.low_open and self.high_open
        if self.low is not None and not (value > self.low if self.low_open else value >= self.low):
            if both_open and self.high is not None:
                return f"between {_num(self.low)} and {_num(self.high)}"
            if self.low == 0 and self.low_open:
                return "positive"
            return f"{'more than' if self.low_open else 'at least'} {_num(self.low)}"
        if self.high is not None and not (value < self.high if self.high_open else value <= self.high):
            if both_open and self.low is not None:
                return f"between {_num(self.low)} and {_num(self.high)}"
            return f"{'less than' if self.high_open else 'at most'} {_num(self.high)}"
        return None


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else format(value, "g")


def _setting(default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A dataclass field declared with its ``Setting``."""
    return field(default=default, metadata={"setting": Setting(**meta)})


class ConfigError(FinetuiError, ValueError):
    """A config value is out of range or of the wrong kind: ``path`` names the field (``train.lr``).

    ``need`` and ``value``, when set, say what it must be and what it was, so a
    front end can say it with its own name for the field (``--lr``, "Learn rate").
    """

    def __init__(self, path: str, message: str, code: str = "invalid", need: str | None = None, value: object = None) -> None:
        super().__init__(message, code, Hint(path) if path else None)
        self.path = path
        self.need = need
        self.value = value

    def __str__(self) -> str:
        return self.message

    def worded(self, name: str) -> str:
        """The message with ``name`` (a flag, a label) for the field's path."""
        return f"{name} must be {self.need}, not {self.value!r}" if self.need else self.message


def _refuse(path: str, need: str, value: object, code: str = "out_of_range") -> ConfigError:
    return ConfigError(path, f"{path} must be {need}, not {value!r}", code, need, value)


_KIND_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}


def _check_section(obj: Any, section: str) -> None:
    """Check every field of a section against its type and its ``Setting``; raise ``ConfigError`` for the first bad one."""
    for f in settings_of(type(obj), section):
        value = getattr(obj, f.name)
        if value is None and f.optional:
            continue
        if not f.accepts(value):
            raise _refuse(f.path, _KIND_WORDS[f.kind], value, "wrong_type")
        if f.meta.choices and value not in f.meta.choices:
            raise _refuse(f.path, f"one of {', '.join(f.meta.choices)}", value, "not_a_choice")
        if f.kind in (int, float) and (need := f.meta.need(value)) is not None:
            raise _refuse(f.path, need, value)


@dataclass
class DataConfig:
    """Which file to train on and how to read it (the TUI sets these on its data screen)."""

    path: str = _setting(help="the data file: text, JSON, JSON Lines, CSV, TSV, Parquet or Arrow, any extension, or compressed (.gz, .bz2, .xz)", form="data")
    format: str | None = _setting(
        None,
        help=(
            "force the file format (txt, json, jsonl, csv, tsv, parquet, arrow)"
            " or the record layout (text, prompt_completion, messages, sharegpt, alpaca, qa, preference)"
        ),
        flag="--format",
        short="-f",
        metavar="F",
        default_help="detected from the content",
        form="data",
    )
    separator: str | None = _setting(None, help="string between examples in a .txt", flag="--separator", short="-s", metavar="S", form="data")
    mapping: str | None = _setting(
        None, help="the columns holding the fields, e.g. prompt=question,completion=answer", flag="--map", metavar="FIELD=COLUMN,...", form="data"
    )
    eval_fraction: float = _setting(
        0.1, help="share of examples held out for the scorecard", label="Eval frac", flag="--eval-fraction", low=0, high=1, low_open=True, high_open=True
    )
    chat_template: str = _setting(
        "auto",
        help="render prompt/completion pairs with the model's chat template, as a user turn and an assistant turn (chats always are)",
        label="Template",
        flag="--chat-template",
        choices=("auto", "on", "off"),
        default_help="auto: on for a model with a chat template of its own (an instruct model); the run saves what it used",
    )

    def __post_init__(self) -> None:
        _check_section(self, "data")


@dataclass
class ModelConfig:
    """The base model and how it is loaded."""

    name: str = _setting(
        DEFAULT_MODEL, help="bundled model name, local folder, hub id or cached model", label="Model", flag="--model", short="-m", metavar="M", form="model"
    )
    quant: str = _setting(
        "4bit", help="load the base model in 4bit (NF4, double quantization), 8bit or none", label="Quant", flag="--quant", choices=QUANTS, form="model"
    )
    attention: str = _setting(
        "auto",
        help="attention kernel: sdpa, flash_attention_2 (needs flash-attn and a GPU) or eager",
        flag="--attention",
        choices=ATTENTIONS,
        default_help="auto: flash_attention_2 when installed on a bf16/fp16 GPU run, else sdpa",
        form="cli",
    )
    trust_remote_code: bool = _setting(
        False,
        help="allow a model that ships its own Python code (it runs on this machine)",
        label="Trust code",
        flag="--trust-remote-code",
        confirm=(
            "A model that ships its own Python code runs it on this machine, with your permissions, when the run loads it."
            " Start only if you trust where the model came from."
        ),
        form="model",
    )

    def __post_init__(self) -> None:
        _check_section(self, "model")
        if not self.name.strip():
            raise _refuse("model.name", "a model name or path", self.name, "missing")


@dataclass
class LoraConfig:
    """The LoRA adapter: rank, scaling and dropout, on all linear layers."""

    r: int = _setting(
        16, help="LoRA rank of the update matrices", label="LoRA r", flag="--lora-r", low=1, high=4096, default_help="chosen from the data's size"
    )
    alpha: int = _setting(
        32, help="LoRA scaling: the update is multiplied by alpha / r", label="LoRA α", flag="--lora-alpha", low=1, high=65536, default_help="twice the rank"
    )
    dropout: float = _setting(0.05, help="dropout on the LoRA adapter's input", label="Dropout", flag="--lora-dropout", low=0, high=1, high_open=True)

    def __post_init__(self) -> None:
        _check_section(self, "lora")


#: Trackers the Trainer can report to (transformers' ``report_to``); ``none`` reports nowhere else.
REPORT_TO = (
    "none", "all", "tensorboard", "wandb", "mlflow", "comet_ml", "clearml", "neptune", "trackio", "dvclive", "swanlab", "codecarbon", "azure_ml", "dagshub",
)
#: What each tracker needs installed, as transformers' integrations look for it: per requirement, the modules
#: of which any one will do, and what to pip install. ``all`` reports to whichever are installed: it needs none.
TRACKER_PACKAGES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "tensorboard": ((("tensorboard", "tensorboardX"), "tensorboard"),),
    "wandb": ((("wandb",), "wandb"),),
    "mlflow": ((("mlflow",), "mlflow"),),
    "comet_ml": ((("comet_ml",), "comet-ml"),),
    "clearml": ((("clearml",), "clearml"),),
    "neptune": ((("neptune", "neptune-client"), "neptune"),),
    "trackio": ((("trackio",), "trackio"),),
    "dvclive": ((("dvclive",), "dvclive"),),
    "swanlab": ((("swanlab",), "swanlab"),),
    "codecarbon": ((("codecarbon",), "codecarbon"),),
    "azure_ml": ((("azureml.core.run",), "azureml-core"),),
    "dagshub": ((("dagshub",), "dagshub"), (("mlflow",), "mlflow")),
}
#: Bounds past which a number can only be a typo, and would overflow the Trainer's step counts.
MAX_EPOCHS = 10_000
MAX_STEPS = 100_000_000


@dataclass
class TrainConfig:
    """Optimisation settings. ``max_steps`` wins over ``epochs`` when set."""

    epochs: float = _setting(
        3.0,
        help="passes over the train split",
        label="Epochs",
        flag="--epochs",
        low=0,
        high=MAX_EPOCHS,
        low_open=True,
        default_help="chosen from the data's size",
        exclusive="length",
    )
    max_steps: int | None = _setting(
        None,
        help="stop after N optimizer steps instead",
        label="Max steps",
        flag="--max-steps",
        metavar="N",
        low=1,
        high=MAX_STEPS,
        default_help="none; without a GPU, a ~8-minute cap",
        exclusive="length",
    )
    lr: float = _setting(
        2e-4,
        help="peak learning rate (cosine decay, 3% warmup)",
        label="Learn rate",
        flag="--lr",
        low=0,
        high=1,
        low_open=True,
        high_open=True,
        default_help="chosen from the model's size",
    )
    batch_size: int = _setting(4, help="packed sequences per step and device", label="Batch", flag="--batch-size", low=1, high=65536)
    grad_accum: int = _setting(1, help="steps whose gradients are summed before an update", label="Grad acc", flag="--grad-accum", low=1, high=65536)
    seq_len: int = _setting(
        512, help="tokens per packed sequence; longer examples are cut (at most the model's context)", label="Seq len", flag="--seq-len", low=8, high=1_048_576
    )
    seed: int = _setting(0, help="seed for the split, the adapter init and the data order", label="Seed", flag="--seed", low=0, high=2**32 - 1)
    save_steps: int = _setting(20, help="write a checkpoint every N steps", label="Save every", flag="--save-steps", metavar="N", low=1, high=MAX_STEPS)
    logging_steps: int = _setting(1, help="log train metrics every N steps", label="Log every", flag="--logging-steps", metavar="N", low=1, high=MAX_STEPS)
    packing: bool = _setting(True, help="pack examples into full sequences instead of one example per sequence", label="Packing", flag="--packing")
    precision: str = _setting(
        "auto", help="compute dtype: bf16, fp16 (with loss scaling) or fp32", flag="--precision", choices=PRECISIONS,
        default_help="auto: bf16 on Ampere and newer GPUs, fp16 on older ones (T4, V100), fp32 on the CPU", form="cli",
    )
    checkpointing: str = _setting(
        "auto", help="gradient checkpointing (non-reentrant): recompute activations in the backward pass to save memory",
        flag="--checkpointing", choices=SWITCHES, default_help="auto: on on a GPU, off on the CPU", form="cli",
    )
    optim: str = _setting(
        "auto", help="optimizer: adamw (torch) or paged_adamw_8bit (bitsandbytes, GPU only)", flag="--optim", choices=OPTIMS,
        default_help="auto: paged_adamw_8bit on a GPU, adamw on the CPU", form="cli",
    )
    liger: str = _setting(
        "auto", help="Liger kernels (fused norms, RoPE, SwiGLU, cross-entropy) through transformers' use_liger_kernel",
        flag="--liger", choices=SWITCHES, default_help="auto: on on a GPU when liger-kernel is installed", form="cli",
    )
    strategy: str = _setting(
        "auto",
        help="with several devices: ddp (a model copy per device) or fsdp (shards of it); auto chooses from the memory estimate",
        label="Sharding",
        flag="--strategy",
        choices=("auto", "ddp", "fsdp"),
    )
    devices: str = _setting(
        "1",
        help="processes to train on per machine: a number, or all (every CUDA device); on a CPU, N processes over gloo",
        label="Devices",
        flag="--devices",
        metavar="N|all",
    )
    nodes: int = _setting(
        1, help="machines in the run; start the same command on each with its --node-rank", flag="--nodes", metavar="N", low=1, high=4096, form="cli"
    )
    main_address: str | None = _setting(
        None, help="address of the machine with node rank 0, which all nodes reach", flag="--main-address", metavar="HOST", form="cli"
    )
    main_port: int = _setting(
        29500, help="a free port on the main machine for the nodes to meet", flag="--main-port", metavar="PORT", low=1, high=65535, form="cli"
    )
    eval_steps: int | None = _setting(
        None,
        help="score eval loss and accuracy on a fixed eval sample every N steps (0: never during training)",
        label="Eval every",
        flag="--eval-steps",
        metavar="N",
        low=0,
        high=MAX_STEPS,
        default_help="about 10 evaluations per run",
    )
    load_best: bool = _setting(
        True,
        help="keep the checkpoint with the best eval loss, not the last one (saves at each evaluation); off without evaluations during training",
        label="Load best",
        flag="--load-best",
    )
    early_stop: int | None = _setting(
        None, help="stop after N evaluations without a better eval loss", label="Early stop", flag="--early-stop", metavar="N", low=1, high=MAX_STEPS
    )
    samples: int = _setting(
        32, help="eval examples both models complete after training, for the Samples view", label="Samples", flag="--samples", metavar="N", low=0, high=1024
    )
    report_to: str = _setting(
        "none", help="also send the Trainer's metrics to this tracker", label="Report to", flag="--report-to", choices=REPORT_TO
    )

    def __post_init__(self) -> None:
        _check_section(self, "train")
        if self.devices != "all" and not (self.devices.isdigit() and 1 <= int(self.devices) <= 4096):
            raise _refuse("train.devices", "a whole number from 1 to 4,096, or all", self.devices)
        if self.nodes > 1 and not self.main_address:
            raise ConfigError("train.main_address", "several nodes need the main machine's address (train.main_address)", "missing")
        if self.eval_steps == 0 and self.early_stop:
            raise ConfigError("train.early_stop", "train.early_stop needs evaluations during training, but train.eval_steps is 0", "conflict")


#: Evaluations a run gets when ``train.eval_steps`` is not set: the trainer's schedule and the train form's placeholder.
EVALS_PER_RUN = 10


def auto_eval_every(steps: int) -> int:
    """Evaluate every this many steps when ``train.eval_steps`` is not set: about ``EVALS_PER_RUN`` in a run of ``steps``."""
    return max(1, math.ceil(steps / EVALS_PER_RUN))


#: The sections of ``RunConfig``, in order: each a key of ``config.json``.
SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "lora": LoraConfig, "train": TrainConfig}


@dataclass(frozen=True)
class SettingField:
    """One setting as the front ends see it: where it lives, its type, its default and its ``Setting``."""

    section: str
    name: str
    kind: type
    """int, float, bool or str."""
    optional: bool
    """None is a value: "not set" (no step cap, a detected format)."""
    default: Any
    """The field's default; ``dataclasses.MISSING`` when it has none (the data file)."""
    meta: Setting

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}"

    def accepts(self, value: object) -> bool:
        """Whether ``value`` has this setting's type (an int is a float; a bool is not a number)."""
        if self.kind is bool:
            return isinstance(value, bool)
        if isinstance(value, bool):
            return False
        if self.kind is float:
            return isinstance(value, (int, float))
        return isinstance(value, self.kind)


@functools.cache
def settings_of(kind: type, section: str) -> tuple[SettingField, ...]:
    """The settings of one section class, in declaration order."""
    hints = typing.get_type_hints(kind)
    found = []
    for f in dataclasses.fields(kind):
        args = typing.get_args(hints[f.name]) or (hints[f.name],)
        base = next(a for a in args if a is not type(None))
        found.append(SettingField(section, f.name, base, type(None) in args, f.default, f.metadata["setting"]))
    return tuple(found)


def settings() -> tuple[SettingField, ...]:
    """Every setting of a run, section by section, in declaration order."""
    return tuple(f for section, kind in SECTIONS.items() for f in settings_of(kind, section))


def setting(path: str) -> SettingField | None:
    """The setting at ``path`` (``train.lr``), or None."""
    return next((f for f in settings() if f.path == path), None)


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

    def value(self, path: str) -> Any:
        """The value of the setting at ``path``."""
        section, name = path.split(".")
        return getattr(getattr(self, section), name)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Rebuild and validate a config; unknown or mistyped keys raise ``ConfigError``."""
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            if key == "name":
                kwargs[key] = str(value)
            elif key in SECTIONS:
                kwargs[key] = _section(SECTIONS[key], key, value)
            else:
                raise ConfigError(key, f"unknown config key {key!r}", "unknown_key")
        if "data" not in kwargs or "name" not in kwargs:
            raise ConfigError("data" if "name" in kwargs else "name", "config needs 'name' and 'data'", "missing")
        return cls(**kwargs)


def _section(kind: type, name: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(name, f"{name} must be an object, not {type(value).__name__}", "wrong_type")
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(value) - known
    if unknown:
        path = f"{name}.{sorted(unknown)[0]}"
        raise ConfigError(path, f"unknown key {path}", "unknown_key")
    try:
        return kind(**value)
    except TypeError as exc:
        raise ConfigError(name, f"{name}: {exc}", "missing") from None
