"""Before a run starts: how many tokens the data is for a model, how many steps, and how long.

The TUI shows these on the preview and train screens, so everything here is
cheap to import (no torch, no transformers): token counts use the model's
``tokenizer.json`` through the ``tokenizers`` library, which is what the
model's fast tokenizer runs anyway, and the time comes from the speed that
finished runs of the same model measured on this machine.
"""

from __future__ import annotations

import glob
import json
import math
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import DataConfig, RunConfig
from engine.data import Cancelled, DataSpec, Example, Report, iter_examples
from engine.data.scanner import CHARS_PER_TOKEN
from engine.models import ModelError, resolve_model
from engine.models.check import check_config, check_weights, safetensors_header
from engine.models.resolve import is_hub_id
from engine.runs import RunStore

#: Examples tokenized per batch (the Rust tokenizer spreads a batch over the cores).
BATCH = 256
#: A 2-core CPU's LoRA training speed times the model's parameter count, from
#: ``bench/train_throughput.py`` (finetui-tiny, 5.87M parameters, 2,288 tokens/s).
#: Only used until a run of the model has finished on this machine.
CPU_RATE_TIMES_PARAMS = 1.3e10
#: The CPU cores ``CPU_RATE_TIMES_PARAMS`` was measured on.
CPU_RATE_CORES = 2
#: Importing torch and loading a small model on a CPU, before the first step.
STARTUP_GUESS_S = 30.0
#: An eval token costs about a third of a training token (forward only), and
#: the scorecard evaluates the eval split twice (baseline and custom).
EVAL_COST = 2 / 3


@dataclass(frozen=True)
class ModelFacts:
    """What the estimate needs to know about a model, read from its files without loading it."""

    spec: str
    path: Path | None
    context: int | None
    params: int | None
    tokenizer_file: Path | None
    note: str = ""
    """Why a figure is missing or approximate (not downloaded, no tokenizer.json)."""
    downloadable: bool = False
    """Not on disk, but a hub id the run can download: a run may start with it."""


def model_facts(spec: str) -> ModelFacts:
    """Context length, parameter count and tokenizer of ``spec``, from disk only (never downloads)."""
    try:
        resolved = resolve_model(spec, download=False)
    except ModelError as error:
        if is_hub_id(spec) and error.code == "not_found":
            note = f"{spec} is not on disk yet: the run downloads it from the Hugging Face Hub first"
            return ModelFacts(spec, None, None, None, None, note=note, downloadable=True)
        return ModelFacts(spec, None, None, None, None, note=str(error))
    folder = resolved.path
    try:  # the same check ``finetui train`` makes, so the TUI refuses what the CLI refuses
        check_config(folder, f"'{spec}'")
        check_weights(folder, f"'{spec}'")
    except ModelError as error:
        return ModelFacts(spec, None, None, None, None, note=str(error))
    config = _read_json(folder / "config.json")
    context = config.get("max_position_embeddings") or config.get("n_positions")
    if isinstance(context, bool) or not isinstance(context, int) or context <= 0:
        context = None
    tokenizer = folder / "tokenizer.json"
    note = "" if tokenizer.exists() else f"{spec} has no tokenizer.json: tokens estimated at {CHARS_PER_TOKEN:g} characters each"
    return ModelFacts(spec, folder, int(context) if context else None, count_parameters(folder), tokenizer if tokenizer.exists() else None, note)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def count_parameters(folder: Path) -> int | None:
    """Parameters in the folder's safetensors files, summed from their headers (nothing else is read)."""
    total = 0
    for file in sorted(folder.glob("*.safetensors")):
        try:
            header = safetensors_header(file)
        except ModelError:  # a broken header: no count, and the run's model check says why
            return None
        total += sum(math.prod(tensor["shape"]) for tensor in header.values())
    return total or None


@dataclass(frozen=True)
class TokenStats:
    """Example lengths in the model's tokens, as training will see them (bos and eos included)."""

    examples: int
    total: int
    p50: int
    p90: int
    max: int
    seq_len: int
    exact: bool
    """False when lengths were estimated from characters (no tokenizer on disk)."""
    cut: int = 0
    """Prompt/completion or chat examples longer than ``seq_len``: training cuts them."""
    split: int = 0
    """Plain-text examples longer than ``seq_len``: training reads them as several sequences."""
    trained: int = 0
    """Tokens training keeps: all of the text, the cut examples up to ``seq_len``."""


def _pieces(example: Example) -> list[str]:
    """The texts training tokenizes for an example (a chat's template adds a few tokens per turn)."""
    if example.kind == "text":
        return [example.text]
    if example.kind == "prompt_completion":
        return [example.prompt, example.completion]
    return [m.content for m in example.messages]


def token_lengths(
    examples: Iterable[Example],
    facts: ModelFacts,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[tuple[int, bool]]:
    """``(length in tokens, is plain text)`` of each example, counting bos and eos as training adds them."""
    encode = _encoder(facts)
    lengths: list[tuple[int, bool]] = []
    batch: list[Example] = []

    def flush() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled()
        texts = [piece for e in batch for piece in _pieces(e)]
        counts = iter(encode(texts))
        for e in batch:
            lengths.append((2 + sum(next(counts) for _ in _pieces(e)), e.kind == "text"))
        batch.clear()
        if on_progress is not None:
            on_progress(len(lengths))

    for example in examples:
        batch.append(example)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return lengths


def _encoder(facts: ModelFacts) -> Callable[[list[str]], list[int]]:
    if facts.tokenizer_file is None:
        return lambda texts: [max(1, round(len(t) / CHARS_PER_TOKEN)) for t in texts]
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(facts.tokenizer_file))
    return lambda texts: [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def summarize(lengths: list[tuple[int, bool]], seq_len: int, exact: bool) -> TokenStats:
    """Percentiles, and what training does with examples longer than ``seq_len``."""
    if not lengths:
        return TokenStats(0, 0, 0, 0, 0, seq_len, exact)
    ordered = sorted(n for n, _ in lengths)

    def pct(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return TokenStats(
        examples=len(ordered),
        total=sum(ordered),
        p50=pct(0.5),
        p90=pct(0.9),
        max=ordered[-1],
        seq_len=seq_len,
        exact=exact,
        cut=sum(1 for n, text in lengths if n > seq_len and not text),
        split=sum(1 for n, text in lengths if n > seq_len and text),
        trained=sum(n if text else min(n, seq_len) for n, text in lengths),
    )


def count_tokens(
    spec: DataSpec,
    facts: ModelFacts,
    seq_len: int,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TokenStats:
    """Token lengths of every example of ``spec`` for the model, at the sequence length training will use."""
    lengths = token_lengths(iter_examples(spec), facts, on_progress, should_stop)
    return summarize(lengths, effective_seq_len(seq_len, facts), exact=facts.tokenizer_file is not None)


def train_share(report: Report) -> float:
    """The share of examples in the train split; the configured split's when the data has no example."""
    return report.train / report.examples if report.examples else 1.0 - DataConfig().eval_fraction


def effective_seq_len(seq_len: int, facts: ModelFacts) -> int:
    """Training never packs past the model's context."""
    return min(seq_len, facts.context) if facts.context else seq_len


@dataclass(frozen=True)
class MeasuredSpeed:
    """How fast a finished run of the same model trained on this machine."""

    tokens_per_s: float
    overhead_s: float
    """Loading, the two evals and saving: the run's wall time minus its training time."""
    run_id: str


def measured_speed(model: str, quant: str, store: RunStore | None = None) -> MeasuredSpeed | None:
    """The newest ready run of ``model`` at ``quant``: its training speed, the truest guess for the next run."""
    for run in reversed((store or RunStore()).list()):
        try:
            config = run.config()
            status = run.status()
            metrics = run.metrics() if status.state == "ready" else None
        except (OSError, ValueError):
            continue
        if metrics is None or config.model.name != model or config.model.quant != quant:
            continue
        rate, train_time = metrics.train.tokens_per_s, metrics.train.train_time_s or 0.0
        if rate is None or rate <= 0:
            continue
        wall = (status.ended_at or 0) - (status.started_at or 0)
        overhead = max(0.0, wall - train_time)
        return MeasuredSpeed(rate, overhead, run.id)
    return None


@dataclass(frozen=True)
class Estimate:
    """Steps and time of a run before it starts, with what the figure rests on (front ends word it)."""

    steps: int
    train_tokens: int
    """Tokens the optimizer will see: the train split's tokens per step, times the steps."""
    seconds: float | None
    tokens_per_s: float | None = None
    """The training speed the time rests on; None when the model's size is unknown."""
    measured_by: str | None = None
    """The finished run of the same model whose speed that is; None when the speed is a guess."""
    guess_cores: int | None = None
    """The CPU cores a guessed speed was measured on (``CPU_RATE_CORES``); None for a measured speed."""
    gpu: bool = False
    """A GPU driver is on this machine, so a guessed CPU speed is far too slow."""
    processes: int = 1
    """Training processes (``train.devices`` on each of ``train.nodes``): each takes its own batch per step."""
    global_batch: int = 0
    """Sequences per optimizer step over all processes: batch size × grad accumulation × processes."""


def steps_per_epoch(config: RunConfig, tokens: TokenStats, train_share: float) -> int:
    """Optimizer steps in one pass over the train split: packing fills rows of ``seq_len`` tokens."""
    t = config.train
    train_tokens = tokens.trained * train_share
    rows = math.ceil(train_tokens / tokens.seq_len) if t.packing else round(tokens.examples * train_share) + tokens.split
    return max(1, math.ceil(math.ceil(rows / (t.batch_size * processes(config))) / t.grad_accum))


def processes(config: RunConfig) -> int:
    """The run's training processes: ``train.devices`` per node (``all``: the NVIDIA devices here, without importing torch) × nodes."""
    devices = config.train.devices
    if devices == "all":
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        found = len([d for d in visible.split(",") if d.strip()]) if visible is not None else len(glob.glob("/dev/nvidia[0-9]*"))
        return max(1, found) * config.train.nodes
    return int(devices) * config.train.nodes


def estimate_run(config: RunConfig, tokens: TokenStats, train_share: float, facts: ModelFacts, store: RunStore | None = None) -> Estimate:
    """How many optimizer steps the run will take and about how long, for the tokens of its data.

    ``train_share`` is the fraction of examples in the train split (the
    report's train / examples). Packing fills rows of ``seq_len`` tokens, so
    the rows are the truncated train tokens over the sequence length.
    """
    t = config.train
    train_tokens = tokens.trained * train_share
    eval_tokens = tokens.trained - train_tokens
    per_epoch = steps_per_epoch(config, tokens, train_share)
    steps = t.max_steps or max(1, math.ceil(per_epoch * t.epochs))
    # An epoch's steps share its tokens (the last batch may be short), and
    # max_steps past one epoch goes round the data again.
    seen = round(steps * train_tokens / per_epoch)
    speed = measured_speed(config.model.name, config.model.quant, store)
    n = processes(config)
    spread = {"processes": n, "global_batch": t.batch_size * t.grad_accum * n}
    if speed is not None:
        seconds = seen / speed.tokens_per_s + speed.overhead_s
        return Estimate(steps, seen, seconds, speed.tokens_per_s, measured_by=speed.run_id, **spread)
    if facts.params:
        rate = CPU_RATE_TIMES_PARAMS / facts.params
        seconds = STARTUP_GUESS_S + (seen + EVAL_COST * eval_tokens) / rate
        return Estimate(steps, seen, seconds, rate, guess_cores=CPU_RATE_CORES, gpu=shutil.which("nvidia-smi") is not None, **spread)
    return Estimate(steps, seen, None, **spread)
