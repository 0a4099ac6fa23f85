"""``finetui plan``: the GPU memory a fine-tune will need, part by part, and whether it fits, before anything is loaded."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.config import ConfigError, LoraConfig, ModelConfig, TrainConfig
from engine.errors import FinetuiError
from engine.plan import PRESET_PREFIX, PRESETS, Breakdown, Plan, PlanError, choose_strategy
from tui.commands.flags import add_setting_flags, given, worded
from tui.commands.runview import error

#: The run settings memory depends on: their ``finetui train`` flags, reused.
PLAN_SETTINGS = (
    "model.name",
    "model.quant",
    "model.trust_remote_code",
    "lora.r",
    "lora.dropout",
    "train.batch_size",
    "train.grad_accum",
    "train.seq_len",
    "train.devices",
    "train.checkpointing",
    "train.optim",
    "train.liger",
)
GIB = 1024**3


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plan",
        help="predict a fine-tune's GPU memory, part by part, and whether it fits",
        description=(
            "Predict the GPU memory of a QLoRA fine-tune from the model's config alone (no weights are read): "
            "the base weights, the LoRA parameters with their gradients and optimizer states, the activations "
            "with and without gradient checkpointing, the logits and the CUDA context; per device, under DDP and "
            "FSDP when --devices is more than 1. Says whether it fits the GPU found here (or --gpu-memory). "
            f"--model also takes a published shape: {', '.join(PRESET_PREFIX + name for name in PRESETS)}."
        ),
    )
    add_setting_flags(p, only=PLAN_SETTINGS)
    p.add_argument("--gpu-memory", metavar="GIB", help="plan for a card with this many GiB instead of the GPU found here (also $FINETUI_GPU_MEMORY)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.plan import detect_gpu, parse_gib, plan_run, planned_gpu

    try:
        sections = _sections(args)
        gpu = planned_gpu(parse_gib(args.gpu_memory, "--gpu-memory")) if args.gpu_memory else detect_gpu()
        result = plan_run(ModelConfig(**sections["model"]), LoraConfig(**sections["lora"]), TrainConfig(**sections["train"]), gpu, on_fetch=say)
    except PlanError as exc:
        return error("plan", offline_hint(exc) if exc.code == "offline" else worded(exc))
    except (ConfigError, FinetuiError) as exc:
        return error("plan", worded(exc))
    print(json.dumps(result.to_json(), indent=2) if args.json else format_plan(result))
    return 0


def offline_hint(exc: PlanError) -> str:
    """An offline failure to read a Hub config, with the way to plan that needs no Hub: a published shape (``shape:NAME``)."""
    shapes = ", ".join(PRESET_PREFIX + name for name in PRESETS)
    return f"{exc.message}; --model also takes a published shape, which needs no Hub: {shapes}"


def say(text: str) -> None:
    """Progress on stderr, so ``--json`` output stays clean."""
    print(f"finetui plan: {text}", file=sys.stderr, flush=True)


def _sections(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The model, LoRA and train settings given on the command line, by section."""
    sections: dict[str, dict[str, Any]] = {"model": {}, "lora": {}, "train": {}}
    for path, value in given(args).items():
        section, name = path.split(".")
        sections[section][name] = value
    return sections


def gib(n: float) -> str:
    return f"{n / GIB:,.2f} GiB"


def format_plan(p: Plan) -> str:
    """The breakdown as aligned lines, then the verdict against the GPU."""
    s = p.shape
    lines = [
        f"model: {s.name}: {s.params / 1e9:,.2f}B parameters, {s.layers} layers, hidden {s.hidden:,}, vocabulary {s.vocab:,}",
        (
            f"run: {p.quant}, LoRA r={p.lora_r} ({p.lora_params / 1e6:,.1f}M trainable), batch {p.batch_size} x {p.seq_len:,} tokens, "
            f"grad accum {p.grad_accum}, {p.devices} device{'s' if p.devices > 1 else ''}: global batch {p.global_batch} "
            f"({p.global_batch * p.seq_len:,} tokens a step), {p.optim}, checkpointing {'on' if p.checkpointing else 'off'}"
        ),
        "",
    ]
    columns: list[tuple[str, Breakdown]] = [("one device" if p.devices == 1 else "DDP, each", p.single)]
    if p.devices > 1:
        columns.append(("FSDP, each", p.fsdp))
    rest = s.params - s.quantized
    base_why = f"{_count(s.quantized)} quantized + {_count(rest)} in float32" if p.quant != "none" else f"{_count(s.params)} in bf16"
    other = p.without_checkpointing if p.checkpointing else p.with_checkpointing
    rows = [
        (f"base weights ({p.quant})", "base", base_why),
        ("LoRA parameters (fp32)", "lora", ""),
        ("LoRA gradients (fp32)", "grads", ""),
        (f"optimizer states ({p.optim})", "optimizer", ""),
        (
            f"activations (checkpointing {'on' if p.checkpointing else 'off'})",
            "activations",
            f"{gib(other)} with checkpointing {'off' if p.checkpointing else 'on'}",
        ),
        ("logits and loss", "logits", "Liger's fused cross-entropy, in chunks" if p.liger else f"batch x seq x {s.vocab:,} vocabulary"),
        ("CUDA context", "context", ""),
    ]
    width = max(len(r[0]) for r in rows)
    lines.append(" " * (width + 2) + "".join(f"{title:>14}" for title, _ in columns))
    for label, part, why in rows:
        values = "".join(f"{gib(getattr(b, part)):>14}" for _, b in columns)
        lines.append(f"{label:<{width}}  {values}  {why}".rstrip())
    lines.append(f"{'total':<{width}}  " + "".join(f"{gib(b.total):>14}" for _, b in columns))
    lines.append("")
    lines.extend(verdict(p))
    return "\n".join(lines)


def verdict(p: Plan) -> list[str]:
    """Whether it fits, and if not what would."""
    if p.gpu is None:
        return ["no GPU detected (torch sees no CUDA device): these are the figures for a GPU; --gpu-memory 24 plans for a 24 GiB card"]
    strategy = choose_strategy(p, p.devices)
    need = p.per_device(strategy).total
    where = f"{p.gpu.name}: {gib(p.gpu.free)} free of {gib(p.gpu.total)}"
    if p.fits(strategy):
        how = f" with {strategy.upper()}" if p.devices > 1 else ""
        return [f"fits{how}: {gib(need)} of {where} ({need / p.gpu.free:.0%})"]
    lines = [f"does not fit: needs {gib(need)} a device, {where}"]
    from engine.train.oom import fitting

    part = p.per_device(strategy)
    fit = fitting(part.total - part.activations - part.logits, p.per_token, p.gpu.free, p.batch_size, p.seq_len)
    if fit is None:
        lines.append("  not even batch size 1 at 64 tokens fits: a smaller model, --quant 4bit or more --devices")
    else:
        accum = max(1, p.batch_size * p.grad_accum // fit.batch_size)
        lines.append(f"  would fit: --batch-size {fit.batch_size} --seq-len {fit.seq_len} --grad-accum {accum}")
    if not p.checkpointing:
        lines.append("  gradient checkpointing would save " + gib(p.without_checkpointing - p.with_checkpointing))
    if p.quant != "4bit":
        lines.append("  --quant 4bit stores the base weights in about a quarter of the memory")
    return lines


def _count(params: int) -> str:
    """A parameter count as model cards write it: 8.03B, 1.24B, 8.9M."""
    return f"{params / 1e9:,.2f}B" if params >= 1e9 else f"{params / 1e6:,.1f}M"
