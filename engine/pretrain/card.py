"""The model card (``README.md``) of a pretrained model, written from the saved folder alone.

``complete_card`` loads the model as saved, generates the sample texts,
and renders the card from ``pretrain_args.json`` and ``metrics.json``; so
``python -m engine.pretrain.card DIR`` rewrites the card of any finished run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

#: Prompts of the model card's sample generations.
SAMPLE_PROMPTS = ("Sherlock Holmes looked at", "It is a truth universally acknowledged", "Once upon a time")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _speed(metrics: dict) -> str:
    speed = metrics.get("train_tokens_per_s")
    return f" ({speed:,} training tokens/s on average)" if speed else ""


def _row(name: str, h: dict) -> str:
    return f"| {name} | {h['tokens']:,} | {h['bytes']:,} | {h['loss']:.4f} | {h['bits_per_byte']:.4f} |"


def render_card(args: dict, metrics: dict, size_bytes: int) -> str:
    """The card's Markdown; ``args`` is ``pretrain_args.json``, ``metrics`` is ``metrics.json``."""
    h = metrics["heldout"]
    books = "\n".join(_row(name, b) for name, b in metrics["heldout_by_book"].items())
    samples = "\n\n".join(
        f"**Prompt:** `{s['prompt']}`\n\n```text\n{s['prompt']}{s['text']}\n```" for s in metrics.get("samples", [])
    )
    command = metrics.get("command") or "python -m engine.pretrain"
    n_books = len(metrics["heldout_by_book"])
    seq = args["seq_len"]
    seed = args["seed"]
    return f"""---
license: mit
language: en
library_name: transformers
pipeline_tag: text-generation
tags: [llama, tiny, finetui]
---

# finetui-tiny

A tiny Llama-architecture language model trained from scratch on {n_books}
public-domain books, so that finetui can fine-tune something offline, on a
CPU, from the first minute. It writes English-looking prose in the manner of
nineteenth-century novels, tales and essays; it knows nothing else and is not
useful as an assistant. It is meant to be fine-tuned in seconds to minutes,
not to be good.

## Model

| | |
| --- | --- |
| architecture | `LlamaForCausalLM`, {args["n_layers"]} layers, hidden {args["d_model"]}, SwiGLU {args["ffn"]}, {args["n_heads"]} heads ({args["n_kv_heads"]} key/value), RoPE, RMSNorm, tied embeddings |
| parameters | {metrics["params"]:,} |
| context | {seq} tokens (trained on sequences of {seq}) |
| tokenizer | byte-level BPE, {args["vocab_size"]:,} tokens, trained on the same training text; `<s>` is added in front, `</s>` ends a text, `<pad>` pads |
| weights | {metrics.get("weights_dtype", "float32")} safetensors; the folder is {_mb(size_bytes)} on disk, tokenizer and card included |

## Data

`{args["corpus"]}/` in the finetui repository: {n_books} public-domain books by
many authors (novels, fairy tales and fables, essays, history, travel); see its
`SOURCES.md` for each book's provenance and how it was cleaned. Paragraphs with
a racial or ethnic slur or a strong profanity were removed, and so was every
quotation of Shakespeare, so that fine-tuning on Shakespeare shows what the
fine-tuning taught.

The last {args["heldout_fraction"]:.0%} of each book (cut at a paragraph) is held out;
the tokenizer and the model saw only the rest: {metrics["train_tokens"]:,} training
tokens, read {metrics["epochs"]} times ({metrics["train_tokens_seen"]:,} tokens seen).

## Training

From scratch with AdamW (betas 0.9/0.95, weight decay {args["weight_decay"]} on matrices),
{args["steps"]:,} steps of {args["batch_size"]} sequences of {seq} tokens, peak learning
rate {args["lr"]:g} after {args["warmup"]} warmup steps, cosine decay to {args["lr"] * args["min_lr_ratio"]:g},
gradient clipping at {args["grad_clip"]}, seed {seed}; {metrics["precision"]} autocast on
{metrics["device"]} ({metrics["threads"]} threads), torch {metrics["torch"]}.
Wall time {metrics["wall_s"] / 60:.1f} minutes, tokenizer and evaluation included{_speed(metrics)}.
All hyperparameters are in `pretrain_args.json`, all figures in `metrics.json`.

## Held-out evaluation

Every held-out token is scored once, in windows of {seq - 1} tokens after `<s>`,
with the weights as saved ({metrics.get("weights_dtype", "float32")}), computed in float32.
Bits per byte = total nats / ln 2 / UTF-8 bytes of the text, so it does not
depend on the tokenizer.

| | tokens | bytes | loss (nats/token) | bits per byte |
| --- | ---: | ---: | ---: | ---: |
{books}
| **all held-out** | **{h["tokens"]:,}** | **{h["bytes"]:,}** | **{h["loss"]:.4f}** | **{h["bits_per_byte"]:.4f}** |
{_outside(metrics)}{_blocklist(metrics)}
## Sample generations

Sampled with the saved generation config (temperature 0.8, top-k 50), seeds {seed}, {seed + 1}, {seed + 2}, {args["sample_tokens"]} new tokens.

{samples}

## Reproduce

From the root of the finetui repository:

```bash
{command}
```

It trains the tokenizer and the model and rewrites this folder, card included
(`--out DIR` writes elsewhere; `python -m engine.pretrain.card DIR` rewrites
the card of a saved model). The run is seeded; on the same kind of machine it
gives the same held-out figures within noise. bf16 autocast is fast only where
the hardware computes in it (a GPU, or a CPU with AVX512-BF16 or AMX);
elsewhere torch emulates it, several times slower than float32, so use
`--precision fp32` (or `auto`, which picks for you).
{_reproduced(metrics)}
## Use

```python
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("sample_data/models/finetui-tiny")
model = AutoModelForCausalLM.from_pretrained("sample_data/models/finetui-tiny", dtype=torch.float32)
```

or, with finetui, as the default model: `finetui train DATA` (the model name is `finetui-tiny`).
"""


def _outside(metrics: dict) -> str:
    """The section on text from outside the corpus; empty until ``complete_card`` has measured it."""
    outside = metrics.get("outside")
    if not outside:
        return ""
    rows = "\n".join(_row(o["name"], o) for o in outside)
    notes = "\n".join(f"- **{o['name']}**: {o['about']}" for o in outside)
    return f"""
## Text from outside the corpus

The same measure on text the model never saw, by authors or in forms the corpus
does not hold, so it shows how far the model generalises beyond its books:

| | tokens | bytes | loss (nats/token) | bits per byte |
| --- | ---: | ---: | ---: | ---: |
{rows}

{notes}
"""


def _blocklist(metrics: dict) -> str:
    """The section on the word-list check; empty until ``complete_card`` has run it."""
    b = metrics.get("blocklist")
    if not b:
        return ""
    verdict = "no hits" if not b["hits"] else f"**{len(b['hits'])} hits** (listed in `metrics.json`)"
    return f"""
## Blocklist check

{b["generations"]} generations of {b["new_tokens"]} new tokens each, sampled with the saved
generation config from {b["prompts"]} varied prompts (seed {b["seed"]}), were scanned
whole-word and case-insensitively against the {b["words"]:,}-entry profanity and slur list
of `{b["package"]}` {b["version"]}: {verdict}. The check is also a test,
`tests/test_model_blocklist.py`.
"""


def _reproduced(metrics: dict) -> str:
    """A second run of the card's command, compared with this one; filled in by hand when someone has run it."""
    note = metrics.get("reproduced")
    return f"\n{note}\n" if note else ""


def generate_samples(model, tokenizer, seed: int, new_tokens: int, device: str) -> list[dict]:
    """One sampled continuation of each of ``SAMPLE_PROMPTS``, seeds ``seed``, ``seed + 1``, ..."""
    import torch

    samples = []
    for i, prompt in enumerate(SAMPLE_PROMPTS):
        torch.manual_seed(seed + i)
        inputs = tokenizer(prompt, return_tensors="pt").to(device)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=new_tokens)
        samples.append({"prompt": prompt, "text": tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)})
    return samples


def load_saved(out: Path, device: str = "cpu"):
    """The model (float32, eval mode) and tokenizer as saved in ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).to(device).eval()
    return model, tokenizer


def complete_card(out: Path, log: Callable[[str], None] = print, device: str = "cpu") -> dict:
    """Run the card's checks on the saved model in ``out``, add them to ``metrics.json``, and write ``README.md``."""
    out = Path(out)
    args = json.loads((out / "pretrain_args.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    model, tokenizer = load_saved(out, device)
    metrics["samples"] = generate_samples(model, tokenizer, args["seed"], args["sample_tokens"], device)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    write_card(out, args, metrics)
    log(f"model card written to {out / 'README.md'}")
    return metrics


def write_card(out: Path, args: dict, metrics: dict) -> None:
    from engine.pretrain.train import dir_size

    path = out / "README.md"
    path.write_text("")  # counted at its final size below, near enough
    size = dir_size(out)
    path.write_text(render_card(args, metrics, size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.pretrain.card", description="Run the model card's checks on a saved model and rewrite its README.md.")
    parser.add_argument("out", type=Path, help="folder of a model saved by python -m engine.pretrain")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    ns = parser.parse_args(argv)
    for name in ("pretrain_args.json", "metrics.json", "config.json"):
        if not (ns.out / name).is_file():
            print(f"python -m engine.pretrain.card: error: {ns.out / name} is missing: not a folder saved by python -m engine.pretrain", file=sys.stderr)
            return 2
    complete_card(ns.out, device=ns.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
