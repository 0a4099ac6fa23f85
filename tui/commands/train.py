"""``finetui train``: check the data, create a run and start its training process."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine.config import QUANTS, ConfigError, DataConfig, LoraConfig, ModelConfig, RunConfig, TrainConfig
from engine.data import FORMATS, DataError, DataSpec, Report
from engine.estimate import count_tokens, estimate_run, model_facts
from engine.models import ModelError
from engine.runs import RunStore
from engine.runs.lifecycle import NoEvalSplit, start_run, validate_data, validate_model
from engine.runs.process import refresh
from engine.runs.status import ACTIVE
from engine.train import defaults
from tui.commands.inspect import format_report
from tui.commands.runview import error, follow, os_problem
from tui.format import duration

T = TrainConfig
L = LoraConfig


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="fine-tune a model on a data file (QLoRA), in the background",
        description=(
            "Validate the data (the same report as `finetui inspect`), create a run and start its "
            "training process. The process is detached: it keeps going if this terminal closes. "
            "Without --detach, follow its log until it ends; Ctrl-C stops following, not the run. "
            "One run trains at a time; later runs wait, queued."
        ),
    )
    p.add_argument("data", type=Path, help="the data file: text, JSON, JSON Lines, CSV, TSV or Parquet, any extension")
    p.add_argument("--separator", "-s", metavar="S", help="string between examples in a .txt")
    p.add_argument("--format", "-f", metavar="F", help=f"force the file format or the record layout: {', '.join(FORMATS)}")
    p.add_argument("--map", metavar="FIELD=COLUMN,...", dest="mapping", help="the columns holding the fields, e.g. prompt=question,completion=answer")
    p.add_argument("--model", "-m", metavar="M", default=ModelConfig().name, help="bundled model name, local folder, hub id or cached model (default: %(default)s)")
    p.add_argument("--name", metavar="N", help="a name for the run (default: the data file's name)")
    steps = p.add_mutually_exclusive_group()
    steps.add_argument("--epochs", type=float, help="passes over the train split (default: chosen from the data's size)")
    steps.add_argument("--max-steps", type=int, help="stop after N optimizer steps instead (default: none; without a GPU, a ~4-minute cap)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: chosen from the model's size)")
    p.add_argument("--lora-r", type=int, help="LoRA rank (default: chosen from the data's size)")
    p.add_argument("--lora-alpha", type=int, help="LoRA alpha (default: twice the rank)")
    p.add_argument("--lora-dropout", type=float, default=L.dropout, help="LoRA dropout (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=T.batch_size, help="packed sequences per step (default: %(default)s)")
    p.add_argument("--grad-accum", type=int, default=T.grad_accum, help="gradient accumulation steps (default: %(default)s)")
    p.add_argument("--seq-len", type=int, default=T.seq_len, help="tokens per sequence (default: %(default)s)")
    p.add_argument("--eval-fraction", type=float, default=DataConfig.__dataclass_fields__["eval_fraction"].default, help="share held out for the scorecard (default: %(default)s)")
    p.add_argument("--quant", choices=QUANTS, default=ModelConfig().quant, help="load the base model in 4bit (NF4), 8bit or none (default: %(default)s)")
    p.add_argument("--seed", type=int, default=T.seed, help="seed for split, init and order (default: %(default)s)")
    p.add_argument("--save-steps", type=int, default=T.save_steps, help="checkpoint every N steps (default: %(default)s)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow a model that ships its own Python code")
    p.add_argument("--detach", "-d", action="store_true", help="return at once; watch with `finetui logs RUN -f`")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> RunConfig:
    return RunConfig(
        name=args.name or args.data.stem,
        data=DataConfig(str(args.data), format=args.format, separator=args.separator, mapping=args.mapping, eval_fraction=args.eval_fraction),
        model=ModelConfig(args.model, quant=args.quant, trust_remote_code=args.trust_remote_code),
        lora=LoraConfig(r=_given(args.lora_r, L.r), alpha=_given(args.lora_alpha, L.alpha), dropout=args.lora_dropout),
        train=TrainConfig(
            epochs=_given(args.epochs, T.epochs),
            max_steps=args.max_steps,
            lr=_given(args.lr, T.lr),
            batch_size=args.batch_size,
            grad_accum=args.grad_accum,
            seq_len=args.seq_len,
            seed=args.seed,
            save_steps=args.save_steps,
        ),
    )


def _given(value: float | int | None, fallback: float | int) -> Any:
    """A flag's value, or the config's own default until the rule in ``engine.train.defaults`` chooses one."""
    return fallback if value is None else value


def user_settings(args: argparse.Namespace) -> set[str]:
    """The settings the rule must leave alone: those given on the command line."""
    given = {
        "train.epochs": args.epochs,
        "train.max_steps": args.max_steps,
        "train.lr": args.lr,
        "lora.r": args.lora_r,
        "lora.alpha": args.lora_alpha,
    }
    return {path for path, value in given.items() if value is not None}


def choose_defaults(config: RunConfig, report: Report, user_set: set[str]) -> tuple[RunConfig, list[str]]:
    """The config with the rule's defaults for what the user left unset, and a line per setting saying why."""
    facts = model_facts(config.model.name)
    share = report.train / report.examples if report.examples else 0.9
    tokens = count_tokens(_spec(config), facts, config.train.seq_len)
    chosen = defaults.choose(facts.params, defaults.data_size(config, tokens, share), gpu=defaults.has_gpu())
    resolved = defaults.apply(config, chosen, user_set)
    lines = ["settings (chosen from the model and the data unless given; override any with its flag):"]
    for path, choice in chosen.items():
        section, name = path.split(".")
        value = getattr(getattr(resolved, section), name)
        shown = "off" if value is None else format(value, "g") if isinstance(value, float) else str(value)
        why = "given" if path in user_set else "follows the run's length" if path in _LENGTH and user_set & _LENGTH else choice.why
        lines.append(f"  {path:<16} {shown:<8} {why}")
    return resolved, lines


_LENGTH = {"train.epochs", "train.max_steps"}


def _spec(config: RunConfig) -> DataSpec:
    return DataSpec(Path(config.data.path), format=config.data.format, separator=config.data.separator, mapping=config.data.mapping)


def format_estimate(config: RunConfig, report: Report) -> str:
    """Tokens, steps and time before the run starts, as the TUI's train screen shows them."""
    facts = model_facts(config.model.name)
    tokens = count_tokens(_spec(config), facts, config.train.seq_len)
    estimate = estimate_run(config, tokens, report.train / report.examples if report.examples else 0.9, facts)
    approx = "" if tokens.exact else "≈"
    lines = [f"tokens ({facts.spec}): {approx}{tokens.total:,}; per example median {tokens.p50:,}, max {tokens.max:,}; sequences of {tokens.seq_len:,}"]
    if tokens.cut:
        lines.append(f"  {tokens.cut:,} examples longer than {tokens.seq_len:,} tokens are cut")
    if tokens.split:
        lines.append(f"  {tokens.split:,} texts longer than {tokens.seq_len:,} tokens are read in parts")
    time = f", about {duration(estimate.seconds)}" if estimate.seconds is not None else ""
    lines.append(f"estimate: {estimate.steps:,} steps, {estimate.train_tokens:,} tokens{time} ({estimate.basis})")
    if facts.note:
        lines.append(f"  {facts.note}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        config = build_config(args)
        validate_model(config)
        report = validate_data(config)
    except (ConfigError, ModelError, NoEvalSplit) as exc:
        return error("train", str(exc))
    except DataError as exc:
        print(f"finetui: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    config, chosen = choose_defaults(config, report, user_settings(args))
    print("\n".join(chosen))
    print(format_estimate(config, report), end="\n\n")
    try:
        ahead = [run.id for run in RunStore().list() if refresh(run).state in ACTIVE]
        created = start_run(config)
    except (ModelError, OSError) as exc:
        return error("train", os_problem(exc))
    if ahead:
        print(f"run {created.id} is queued: it starts when {', '.join(ahead)} {'ends' if len(ahead) == 1 else 'end'} (one run trains at a time)")
    else:
        print(f"run {created.id} started")
    if args.detach:
        print(f"follow it with: finetui logs {created.id} -f")
        return 0
    try:
        state = follow(created)
    except KeyboardInterrupt:
        print(f"\nstopped following; the run goes on. Follow again with: finetui logs {created.id} -f")
        return 0
    print(f"run {created.id} is {state}" + ("" if state == "ready" else f": see finetui show {created.id}"))
    return 0 if state == "ready" else 1
