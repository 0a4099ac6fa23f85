"""Training throughput: finetui (packed) against a plain Trainer + peft script (padded).

Both train the same 4-bit base model with the same LoRA settings, batch size,
sequence length, learning rate and number of steps, on the same examples,
whose lengths vary widely (as real data does). Throughput counts only real
tokens (no padding), per second of training. The plain script is what one
writes from the transformers and peft docs: tokenize each example, pad each
batch to its longest example, train.

    python bench/train_throughput.py [--model finetui-tiny] [--steps 30] [--batch-size 4] [--seq-len 512] [--repeats 2]

Each side runs ``--repeats`` times, alternating, and keeps its best figure, so
a busy spell on a shared machine does not decide the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.paths import SAMPLE_DATA  # noqa: E402

SEPARATOR = "--SEPARATOR--"


def make_data(path: Path, n: int, seed: int) -> None:
    """``n`` spans of the bundled corpus whose lengths are log-uniform between 60 and 2400 characters."""
    corpus = " ".join(p.read_text(encoding="utf-8") for p in sorted((SAMPLE_DATA / "corpus").glob("*.txt")))
    corpus = " ".join(corpus.split())
    rng = random.Random(seed)
    pieces = []
    for _ in range(n):
        length = int(60 * (40 ** rng.random()))
        start = rng.randrange(0, len(corpus) - length)
        pieces.append(corpus[start : start + length])
    path.write_text(f"\n{SEPARATOR}\n".join(pieces), encoding="utf-8")


def finetui_tokens_per_s(data: Path, args: argparse.Namespace) -> tuple[float, int]:
    """Run finetui's own training code in this process; tokens/s from its scorecard."""
    from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from engine.runs import RunStore
    from engine.train.finetune import fine_tune

    config = RunConfig(
        "bench",
        DataConfig(str(data), separator=SEPARATOR),
        ModelConfig(args.model),
        train=TrainConfig(max_steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, save_steps=10_000),
    )
    run = RunStore().create(config)
    assert fine_tune(run, threading.Event()) == "ready"
    card = run.metrics()
    assert card is not None and card.train.tokens_per_s is not None and card.train.tokens is not None
    return card.train.tokens_per_s, card.train.tokens


def plain_tokens_per_s(data: Path, args: argparse.Namespace) -> tuple[float, int]:
    """The plain script: Trainer + peft, one example per row, batches padded to the longest."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        BitsAndBytesConfig,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from engine.data import DataSpec, split_examples
    from engine.models import resolve_model

    path = str(resolve_model(args.model).path)
    train, _ = split_examples(DataSpec(data, separator=SEPARATOR))
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
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    set_seed(0)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"))
    seq_len = min(args.seq_len, model.config.max_position_embeddings)  # as finetui does
    features = []
    for example in train:
        ids = [tokenizer.bos_token_id] + tokenizer(example.text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = ids[:seq_len]
        features.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": ids})
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(
            model=model,
            args=TrainingArguments(
                output_dir=out,
                max_steps=args.steps,
                per_device_train_batch_size=args.batch_size,
                learning_rate=2e-4,
                lr_scheduler_type="cosine",
                logging_steps=1,
                save_strategy="no",
                report_to="none",
                disable_tqdm=True,
                use_cpu=not torch.cuda.is_available(),
                bf16=torch.cuda.is_available(),
                include_num_input_tokens_seen="non_padding",
            ),
            train_dataset=features,
            data_collator=DataCollatorForSeq2Seq(tokenizer, padding="longest"),
        )
        result = trainer.train()
    tokens = trainer.state.num_input_tokens_seen
    return tokens / result.metrics["train_runtime"], tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="finetui-tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--examples", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=2, help="alternate the two this many times; keep each one's best")
    args = parser.parse_args()

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FINETUI_HOME"] = str(Path(tmp) / "home")
        data = Path(tmp) / "varied.txt"
        make_data(data, args.examples, seed=0)
        plain_runs, packed_runs = [], []
        for _ in range(args.repeats):  # alternating, so a busy spell on the machine hits both
            plain_runs.append(plain_tokens_per_s(data, args))
            packed_runs.append(finetui_tokens_per_s(data, args))
        plain, plain_tokens = max(plain_runs)
        packed, packed_tokens = max(packed_runs)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {device}; model {args.model}; {args.steps} steps, batch {args.batch_size}, seq_len {args.seq_len}")
    print(f"plain Trainer + peft (padded): {plain:10,.0f} tokens/s  ({plain_tokens:,} real tokens; runs: {', '.join(f'{r:,.0f}' for r, _ in plain_runs)})")
    print(f"finetui (packed):              {packed:10,.0f} tokens/s  ({packed_tokens:,} real tokens; runs: {', '.join(f'{r:,.0f}' for r, _ in packed_runs)})")
    print(f"ratio finetui / plain: {packed / plain:.2f}x")


if __name__ == "__main__":
    main()
