"""Training throughput: finetui (packed) against a plain Trainer + peft script (padded) and TRL's SFTTrainer (packed, padding-free).

All three train the same 4-bit base model with the same LoRA settings, batch
size, sequence length, learning rate and number of steps, on the same
examples, whose lengths vary widely (as real data does). Throughput counts
only real tokens (no padding), per second of training. The plain script is
what one writes from the transformers and peft docs: tokenize each example,
pad each batch to its longest example, train. TRL's ``SFTTrainer`` with
``packing=True`` (best-fit-decreasing packing, padding-free batches) is what
an informed user would pick instead, so finetui / TRL is the ratio that
matters.

Each side's figure is reported twice: tokens per second of wall-clock time,
and tokens per second of this process's CPU time (user + system, all
threads) over the same training steps. On a shared machine the wall clock
counts the time other jobs took from the cores; the CPU time counts only the
work this process did (as ``bench/generate.py`` does), so its ratio moves
less between runs, though not nothing: torch's OpenMP threads spin while
they wait, and a heavy load makes them wait longer.

    python bench/train_throughput.py [--model finetui-tiny] [--steps 30] [--batch-size 4] [--seq-len 512] [--repeats 2]

Each side runs ``--repeats`` times, alternating, and keeps its best figure, so
a busy spell on a shared machine does not decide the ratio. TRL comes with
``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.paths import SAMPLE_DATA  # noqa: E402

SEPARATOR = "--SEPARATOR--"


@dataclass(frozen=True)
class Side:
    """One training run of one side: real tokens, and the wall and CPU seconds its training steps took."""

    tokens: int
    wall_s: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.tokens / self.wall_s

    @property
    def per_cpu_s(self) -> float:
        return self.tokens / self.cpu_s


def make_data(path: Path, n: int, seed: int) -> None:
    """``n`` spans of the bundled corpus-v2 books whose lengths are log-uniform between 60 and 2400 characters."""
    corpus = " ".join(p.read_text(encoding="utf-8") for p in sorted((SAMPLE_DATA / "corpus-v2").glob("*.txt")))
    corpus = " ".join(corpus.split())
    rng = random.Random(seed)
    pieces = []
    for _ in range(n):
        length = int(60 * (40 ** rng.random()))
        start = rng.randrange(0, len(corpus) - length)
        pieces.append(corpus[start : start + length])
    path.write_text(f"\n{SEPARATOR}\n".join(pieces), encoding="utf-8")


def finetui_side(data: Path, args: argparse.Namespace) -> Side:
    """Run finetui's own training code in this process; tokens and train time from its scorecard.

    Both clocks are read at the run's phase events, from entering
    ``training`` to entering ``custom`` (the scoring after it): the
    Trainer's whole ``train()``, as the other sides time it, without loading
    and the two evaluations.
    """
    from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from engine.runs import RunStore
    from engine.runs.events import PhaseEvent
    from engine.train.finetune import fine_tune

    config = RunConfig(
        "bench",
        DataConfig(str(data), separator=SEPARATOR),
        ModelConfig(args.model),
        # No evaluation during training and no samples after it: the other sides do neither.
        train=TrainConfig(max_steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, save_steps=10_000, eval_steps=0, samples=0),
    )
    run = RunStore().create(config)
    clock: dict[str, tuple[float, float]] = {}
    done = threading.Event()

    def watch() -> None:
        start = 0
        while not done.is_set():
            for end, event in run.events(start):
                start = end
                if isinstance(event, PhaseEvent) and event.phase in ("training", "custom"):
                    clock.setdefault(event.phase, (time.perf_counter(), time.process_time()))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert fine_tune(run, threading.Event()) == "ready"
    finally:
        done.set()
        watcher.join()
    card = run.metrics()
    assert card is not None and card.train.tokens is not None
    (wall0, cpu0), (wall1, cpu1) = clock["training"], clock["custom"]
    return Side(card.train.tokens, wall1 - wall0, cpu1 - cpu0)


def _load_4bit(args: argparse.Namespace) -> tuple[Any, Any, int]:
    """The base model in 4-bit as finetui loads it (NF4, double quantization), its tokenizer, and the sequence length."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    from engine.models import resolve_model

    path = str(resolve_model(args.model).path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32,
    )
    model = AutoModelForCausalLM.from_pretrained(path, quantization_config=quant, device_map="auto" if torch.cuda.is_available() else None)
    return model, tokenizer, min(args.seq_len, model.config.max_position_embeddings)  # as finetui does


def _trained(trainer: Any) -> Side:
    """Train, timing the wall clock and this process's CPU time around it."""
    wall, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    return Side(trainer.state.num_input_tokens_seen, time.perf_counter() - wall, time.process_time() - cpu)


def _training_args(out: str, args: argparse.Namespace) -> dict[str, Any]:
    """The TrainingArguments every side shares."""
    import torch

    return dict(
        output_dir=out,
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        learning_rate=2e-4,
        lr_scheduler_type="cosine",
        logging_steps=args.steps,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available(),
        include_num_input_tokens_seen="non_padding",
    )


LORA = dict(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")


def plain_side(data: Path, args: argparse.Namespace) -> Side:
    """The plain script: Trainer + peft, one example per row, batches padded to the longest."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments, set_seed

    from engine.data import DataSpec, split_examples

    train, _ = split_examples(DataSpec(data, separator=SEPARATOR))
    model, tokenizer, seq_len = _load_4bit(args)
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    set_seed(0)
    model = get_peft_model(model, LoraConfig(**LORA))
    features = []
    for example in train:
        ids = [tokenizer.bos_token_id] + tokenizer(example.text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = ids[:seq_len]
        features.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": ids})
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(
            model=model,
            args=TrainingArguments(**_training_args(out, args)),
            train_dataset=features,
            data_collator=DataCollatorForSeq2Seq(tokenizer, padding="longest"),
        )
        return _trained(trainer)


def trl_side(data: Path, args: argparse.Namespace) -> Side:
    """TRL's SFTTrainer as its docs show it: the texts, a peft config, ``packing=True`` (BFD packing, padding-free)."""
    from datasets import Dataset, disable_progress_bars
    from peft import LoraConfig
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    from engine.data import DataSpec, split_examples

    disable_progress_bars()
    train, _ = split_examples(DataSpec(data, separator=SEPARATOR))
    model, tokenizer, seq_len = _load_4bit(args)
    set_seed(0)
    dataset = Dataset.from_list([{"text": example.text} for example in train])
    with tempfile.TemporaryDirectory() as out:
        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(**_training_args(out, args), packing=True, max_length=seq_len, gradient_checkpointing=False),
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=LoraConfig(**LORA),
        )
        return _trained(trainer)


SIDES = {"plain Trainer + peft (padded)": plain_side, "TRL SFTTrainer (packed)": trl_side, "finetui (packed)": finetui_side}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="finetui-tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--examples", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=2, help="alternate the sides this many times; keep each one's best")
    args = parser.parse_args()

    import torch

    from engine.infer.server import quiet_libraries

    quiet_libraries(warnings=False)
    runs: dict[str, list[Side]] = {name: [] for name in SIDES}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FINETUI_HOME"] = str(Path(tmp) / "home")
        data = Path(tmp) / "varied.txt"
        make_data(data, args.examples, seed=0)
        for _ in range(args.repeats):  # alternating, so a busy spell on the machine hits every side
            for name, side in SIDES.items():
                runs[name].append(side(data, args))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {device}; model {args.model}; {args.steps} steps, batch {args.batch_size}, seq_len {args.seq_len}")
    best = {name: (max(r.per_s for r in sides), max(r.per_cpu_s for r in sides)) for name, sides in runs.items()}
    width = max(map(len, SIDES))
    for name, sides in runs.items():
        wall, cpu = best[name]
        each = ", ".join(f"{r.per_s:,.0f}/{r.per_cpu_s:,.0f}" for r in sides)
        print(f"{name:<{width}}  {wall:8,.0f} tokens/s  {cpu:8,.0f} tokens/CPU-s  ({sides[0].tokens:,} real tokens; runs, wall/CPU: {each})")
    ours = best["finetui (packed)"]
    for name in list(SIDES)[:2]:
        wall, cpu = best[name]
        print(f"ratio finetui / {name}: wall-clock {ours[0] / wall:.2f}x, CPU time {ours[1] / cpu:.2f}x")


if __name__ == "__main__":
    main()
