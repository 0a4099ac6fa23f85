"""QLoRA training on one CUDA GPU: finetui against a plain Trainer + peft script and TRL's packed SFTTrainer.

Two Llama shapes, randomly initialised (no download) and loaded in 4-bit
(NF4, double quantization) by every side:

- ``1b``: Llama-3.2-1B's shape (hidden 2048, 16 layers, 32/8 heads, MLP 8192, vocabulary 128,256);
- ``8b``: Llama-3-8B's shape (hidden 4096, 32 layers, 32/8 heads, MLP 14,336, vocabulary 128,256).

Every side trains the same examples (spans of the bundled corpus whose
lengths vary 40-fold, as real data does) with the same LoRA (r 16, alpha 32,
dropout 0.05, every linear layer), batch size, sequence length, learning
rate, steps, bf16 (fp16 on pre-Ampere cards), non-reentrant gradient
checkpointing and paged 8-bit AdamW, so what differs is how each feeds the
GPU: the plain script pads each batch to its longest example, TRL packs
(best-fit-decreasing, padding-free) and finetui packs (first-fit-decreasing,
FlashAttention-2's flattened rows when it is installed, else SDPA with a
block-diagonal mask).

Each side runs in a process of its own, so each one's peak memory
(``torch.cuda.max_memory_allocated``) is its own. Reported per side: real
(non-padding) tokens per second of training, and peak memory; then the
ratios finetui / plain and finetui / TRL, and finetui's peak beside the
prediction of ``engine.plan`` (``finetui plan``) for the same settings.

    python bench/gpu_train.py [--shapes 1b,8b] [--steps 12] [--batch-size 4] [--seq-len 1024]

Prepared to finish in under 8 minutes on one 80 GB-class GPU: the random
models are written once (safetensors, in a temporary folder), each side
loads and trains for ``--steps`` steps, finetui also scores a small eval
split before and after. ``--shapes tiny --cpu`` runs the same code on a
4-layer model on the CPU, to check the script itself without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SHAPES: dict[str, dict[str, Any]] = {
    "1b": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
           "vocab_size": 128_256, "tie_word_embeddings": True},
    "8b": {"hidden_size": 4096, "intermediate_size": 14_336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
           "vocab_size": 128_256, "tie_word_embeddings": False},
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
             "vocab_size": 4096, "tie_word_embeddings": False},
}
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": "all-linear", "task_type": "CAUSAL_LM"}
SIDES = ("plain", "trl", "finetui")
NAMES = {"plain": "plain Trainer + peft (padded)", "trl": "TRL SFTTrainer (packed)", "finetui": "finetui (packed)"}


# -- setup (parent process) -------------------------------------------------------------------------


def build_model(shape: str, out: Path, data: Path, on_gpu: bool) -> None:
    """A random-init Llama of ``shape`` in bf16 with a BPE tokenizer trained on the data, saved as safetensors."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=8000, special_tokens=["<s>", "</s>", "<pad>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([data.read_text(encoding="utf-8")], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tokenizer.save_pretrained(out)
    config = LlamaConfig(**SHAPES[shape], max_position_embeddings=8192, rope_theta=500_000.0, bos_token_id=0, eos_token_id=1, pad_token_id=2)
    torch.manual_seed(0)
    with torch.device("cuda" if on_gpu else "cpu"):  # initialising 8B parameters on the GPU takes seconds, not minutes
        model = LlamaForCausalLM(config).to(torch.bfloat16 if on_gpu else torch.float32)
    model.save_pretrained(out, safe_serialization=True)
    del model
    if on_gpu:
        torch.cuda.empty_cache()


def make_data(path: Path, n: int) -> None:
    """``n`` spans of the bundled corpus, 60 to 2,400 characters (see bench/train_throughput.py)."""
    from train_throughput import make_data as spans

    spans(path, n, seed=0)


def run_side(side: str, model: Path, data: Path, args: argparse.Namespace, timeout: float) -> dict[str, Any]:
    """One side in a fresh process; its JSON result line, or the reason it failed."""
    cmd = [sys.executable, __file__, "--side", side, "--model", str(model), "--data", str(data), "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--seq-len", str(args.seq_len)] + (["--cpu"] if args.cpu else [])
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"exit {done.returncode}: {tail[:300]}"}


def predicted_peak(model: Path, args: argparse.Namespace) -> int | None:
    """``finetui plan``'s prediction for finetui's run of this model (4-bit, r 16, the same batch and length)."""
    try:
        from engine.plan import model_shape, plan
    except ImportError:
        return None
    shape = model_shape(str(model))
    figures = plan(shape, "4bit", LORA["r"], args.batch_size, args.seq_len, optim="paged_adamw_8bit", checkpointing=True, lora_dropout=LORA["lora_dropout"])
    return figures.single.total


# -- the sides (child processes) ------------------------------------------------------------------


def _precision() -> dict[str, bool]:
    import torch

    if not torch.cuda.is_available():
        return {"bf16": False, "fp16": False}
    bf16 = torch.cuda.get_device_capability(0) >= (8, 0)
    return {"bf16": bf16, "fp16": not bf16}


def _common(out: str, args: argparse.Namespace) -> dict[str, Any]:
    """The TrainingArguments the plain script and TRL share with finetui's GPU defaults."""
    gpu = not args.cpu
    return dict(
        output_dir=out, max_steps=args.steps, per_device_train_batch_size=args.batch_size, learning_rate=2e-4, lr_scheduler_type="cosine",
        logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True, use_cpu=not gpu, include_num_input_tokens_seen="non_padding",
        gradient_checkpointing=gpu, gradient_checkpointing_kwargs={"use_reentrant": False}, optim="paged_adamw_8bit" if gpu else "adamw_torch",
        **_precision(),
    )


def _load(model: Path, args: argparse.Namespace) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    dtype = torch.float32 if args.cpu else (torch.bfloat16 if _precision()["bf16"] else torch.float16)
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)
    loaded = AutoModelForCausalLM.from_pretrained(model, quantization_config=quant, dtype=dtype, device_map={"": "cpu" if args.cpu else 0})
    return loaded, AutoTokenizer.from_pretrained(model)


def _texts(data: Path) -> list[str]:
    from train_throughput import SEPARATOR

    return [t.strip() for t in data.read_text(encoding="utf-8").split(SEPARATOR) if t.strip()]


def _timed(trainer: Any) -> tuple[int, float]:
    started = time.perf_counter()
    trainer.train()
    return int(trainer.state.num_input_tokens_seen), time.perf_counter() - started


def side_plain(model: Path, data: Path, args: argparse.Namespace) -> tuple[int, float]:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments, set_seed

    base, tokenizer = _load(model, args)
    base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=not args.cpu, gradient_checkpointing_kwargs={"use_reentrant": False})
    set_seed(0)
    peft_model = get_peft_model(base, LoraConfig(**LORA))
    features = []
    for text in _texts(data):
        ids = ([tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])[: args.seq_len]
        features.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": ids})
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(model=peft_model, args=TrainingArguments(**_common(out, args)), train_dataset=features,
                          data_collator=DataCollatorForSeq2Seq(tokenizer, padding="longest"))
        return _timed(trainer)


def side_trl(model: Path, data: Path, args: argparse.Namespace) -> tuple[int, float]:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    base, tokenizer = _load(model, args)
    set_seed(0)
    with tempfile.TemporaryDirectory() as out:
        trainer = SFTTrainer(model=base, args=SFTConfig(**_common(out, args), packing=True, max_length=args.seq_len),
                             train_dataset=Dataset.from_list([{"text": t} for t in _texts(data)]), processing_class=tokenizer,
                             peft_config=LoraConfig(**LORA))
        return _timed(trainer)


def side_finetui(model: Path, data: Path, args: argparse.Namespace) -> tuple[int, float]:
    """finetui's worker code in this process; tokens and training time (the Trainer's ``train()``) from its scorecard."""
    from train_throughput import SEPARATOR

    from engine.config import DataConfig, LoraConfig, ModelConfig, RunConfig, TrainConfig
    from engine.runs import RunStore
    from engine.train.worker import _work

    config = RunConfig(
        "bench", DataConfig(str(data), separator=SEPARATOR, eval_fraction=0.02), ModelConfig(str(model), quant="4bit"),
        LoraConfig(r=LORA["r"], alpha=LORA["lora_alpha"], dropout=LORA["lora_dropout"]),
        TrainConfig(max_steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len, lr=2e-4, save_steps=100_000, eval_steps=0, samples=0),
    )
    run = RunStore().create(config)
    if _work(run, threading.Event(), resume=False) != 0:
        raise RuntimeError(f"the finetui run failed: {run.status().reason}")
    card = run.metrics()
    assert card is not None and card.train.tokens and card.train.train_time_s
    return card.train.tokens, card.train.train_time_s


def child(args: argparse.Namespace) -> None:
    """Run one side and print its result as one JSON line."""
    import torch

    from engine.infer.server import quiet_libraries

    quiet_libraries(warnings=False)
    with tempfile.TemporaryDirectory() as home:
        os.environ["FINETUI_HOME"] = home
        tokens, seconds = {"plain": side_plain, "trl": side_trl, "finetui": side_finetui}[args.side](Path(args.model), Path(args.data), args)
    peak = int(torch.cuda.max_memory_allocated(0)) if torch.cuda.is_available() and not args.cpu else None
    print(json.dumps({"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds, "peak_bytes": peak}))


# -- the report -----------------------------------------------------------------------------------


def report(shape: str, results: dict[str, dict[str, Any]], predicted: int | None) -> list[str]:
    gib = 2**30
    lines = [f"shape {shape}:"]
    for side in SIDES:
        r = results[side]
        if "error" in r:
            lines.append(f"  {NAMES[side]:<32} failed: {r['error']}")
            continue
        peak = f"{r['peak_bytes'] / gib:6.2f} GiB peak" if r.get("peak_bytes") else "   (no GPU peak)"
        lines.append(f"  {NAMES[side]:<32} {r['tokens_per_s']:10,.0f} tokens/s  {peak}  ({r['tokens']:,} real tokens in {r['seconds']:.1f} s)")
    ours = results["finetui"]
    for side in ("plain", "trl"):
        other = results[side]
        if "error" in ours or "error" in other:
            continue
        memory = f", peak memory {ours['peak_bytes'] / other['peak_bytes']:.2f}x" if ours.get("peak_bytes") and other.get("peak_bytes") else ""
        lines.append(f"  ratio finetui / {NAMES[side]}: tokens/s {ours['tokens_per_s'] / other['tokens_per_s']:.2f}x{memory}")
    if predicted and ours.get("peak_bytes"):
        lines.append(f"  finetui plan predicted {predicted / gib:.2f} GiB; measured {ours['peak_bytes'] / gib:.2f} GiB ({ours['peak_bytes'] / predicted:.2f}x)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="1b,8b", help="comma-separated: 1b, 8b (and tiny, for --cpu)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--side-timeout", type=float, default=150.0, help="seconds each side may take (loading included)")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (only sensible with --shapes tiny): checks the script")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        print(f"bench/gpu_train.py: unknown shape {unknown[0]!r}; choose from {', '.join(SHAPES)}", file=sys.stderr)
        return 2

    import torch

    if not args.cpu and not torch.cuda.is_available():
        print(f"bench/gpu_train.py needs a CUDA GPU, and torch {torch.__version__} sees none (use --cpu --shapes tiny to check the script)", file=sys.stderr)
        return 2
    if args.side:
        child(args)
        return 0

    device = "cpu" if args.cpu else f"{torch.cuda.get_device_name(0)} ({torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB)"
    print(f"device: {device}; {args.steps} steps, batch {args.batch_size}, seq_len {args.seq_len}, LoRA r {LORA['r']}, 4-bit NF4", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "varied.txt"
        make_data(data, args.examples)
        for shape in shapes:
            model = Path(tmp) / shape
            build_model(shape, model, data, on_gpu=not args.cpu)
            results = {side: run_side(side, model, data, args, args.side_timeout) for side in SIDES}
            for line in report(shape, results, predicted_peak(model, args)):
                print(line, flush=True)
            for f in model.glob("*.safetensors"):
                f.unlink()  # the 8B shape's 16 GB of random weights
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
