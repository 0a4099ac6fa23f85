"""``finetui train``: check the data, create a run and start its training process."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engine.config import SECTIONS, ConfigError, DataConfig, LoraConfig, ModelConfig, RunConfig, TrainConfig, setting
from engine.data import DataError, DataSpec, Report
from engine.data.names import data_stem
from engine.estimate import count_tokens, estimate_run, model_facts, train_share
from engine.models import ModelError
from engine.runs import RunStore
from engine.runs.lifecycle import NoEvalSplit, RunStateError, check_settings, join_run, start_run, validate_data, validate_model
from engine.runs.process import refresh
from engine.runs.status import ACTIVE
from engine.runs.store import RunStoreError
from engine.train import defaults
from tui.commands.flags import add_setting_flags, given, worded
from tui.commands.inspect import data_error, format_report
from tui.commands.runview import error, follow, os_problem
from tui.format import estimate_lines


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
    p.add_argument("data", type=Path, help=setting("data.path").meta.help)  # type: ignore[union-attr]
    p.add_argument("--name", metavar="N", help="a name for the run (default: the data file's name)")
    add_setting_flags(p)
    p.add_argument("--detach", "-d", action="store_true", help="return at once; watch with `finetui logs RUN -f`")
    p.add_argument(
        "--node-rank",
        type=int,
        default=0,
        metavar="R",
        help="this machine's rank in a multi-node run: 0 creates the run; any other joins the run of that --name node 0 started",
    )
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> RunConfig:
    """The config the flags describe: each setting given, or its default until ``engine.train.defaults`` chooses one."""
    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for path, value in given(args).items():
        section, name = path.split(".")
        sections[section][name] = value
    return RunConfig(
        name=args.name or data_stem(args.data),
        data=DataConfig(str(args.data), **sections["data"]),
        model=ModelConfig(**sections["model"]),
        lora=LoraConfig(**sections["lora"]),
        train=TrainConfig(**sections["train"]),
    )


def user_settings(args: argparse.Namespace) -> set[str]:
    """The settings the rule must leave alone: those given on the command line."""
    return set(given(args))


def choose_defaults(config: RunConfig, report: Report, user_set: set[str]) -> tuple[RunConfig, list[str]]:
    """The config with the rule's defaults for what the user left unset, and a line per setting saying why."""
    facts = model_facts(config.model.name)
    share = train_share(report)
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
    """Tokens, steps and time before the run starts, in the lines the TUI's train screen shows."""
    facts = model_facts(config.model.name)
    tokens = count_tokens(_spec(config), facts, config.train.seq_len)
    estimate = estimate_run(config, tokens, train_share(report), facts)
    lines = [f"estimate ({facts.spec}):"] + [f"  {line.text}" for line in estimate_lines(tokens, estimate, config.train.seq_len)]
    if facts.note:
        lines.append(f"  {facts.note}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.node_rank:
        return join(args)
    try:
        config = build_config(args)
        RunStore().check()
        check_settings(config)
        with ThreadPoolExecutor(max_workers=1) as pool:
            model_checked = pool.submit(validate_model, config)  # seconds for a model not yet checked (a child loads transformers)
            try:
                report = validate_data(config)  # meanwhile
            finally:
                model_checked.result()  # the model's problem first, as when they ran in turn
    except (ConfigError, ModelError, NoEvalSplit) as exc:
        return error("train", worded(exc))
    except RunStoreError as exc:
        return error("train", str(exc))
    except DataError as exc:
        print(f"finetui: error: {data_error(exc)}", file=sys.stderr)
        return 2
    print(format_report(report))
    config, chosen = choose_defaults(config, report, user_settings(args))
    print("\n".join(chosen))
    print(format_estimate(config, report), end="\n\n")
    try:
        ahead = [run.id for run in RunStore().list() if refresh(run).state in ACTIVE]
        created = start_run(config)
    except (ModelError, OSError) as exc:
        return error("train", worded(exc) if isinstance(exc, ModelError) else os_problem(exc))
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


def join(args: argparse.Namespace) -> int:
    """Another machine of a multi-node run: check the same flags, then start this node's ranks of node 0's run."""
    try:
        config = build_config(args)
        if not 0 < args.node_rank < config.train.nodes:
            return error("train", f"--node-rank must be from 0 to {config.train.nodes - 1} (--nodes {config.train.nodes}), not {args.node_rank}")
        joined = join_run(config.name, args.node_rank)
    except ConfigError as exc:
        return error("train", worded(exc))
    except (RunStateError, OSError) as exc:
        return error("train", os_problem(exc))
    print(f"node {args.node_rank} joined run {joined.id}; this node's log: {joined.dir / f'process-node{args.node_rank}.log'}")
    if args.detach:
        return 0
    try:
        state = follow(joined)  # a SLURM step lives while its command does: keep it until the run ends
    except KeyboardInterrupt:
        print(f"\nstopped following; the run goes on. Follow again with: finetui logs {joined.id} -f")
        return 0
    return 0 if state == "ready" else 1
