"""The model card (``README.md``) written next to a pretrained model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.pretrain.args import PretrainArgs
    from engine.pretrain.train import PretrainResult


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _speed(metrics: dict) -> str:
    speed = metrics.get("train_tokens_per_s")
    return f" ({speed:,} training tokens/s on average)" if speed else ""


def render_card(args: PretrainArgs, result: PretrainResult, metrics: dict, command: str | None, size_bytes: int) -> str:
    h = result.heldout
    books = "\n".join(
        f"| {name} | {b.tokens:,} | {b.bytes:,} | {b.loss:.4f} | {b.bits_per_byte:.4f} |" for name, b in result.heldout_by_book.items()
    )
    samples = "\n\n".join(f"**Prompt:** `{prompt}`\n\n```text\n{prompt}{text}\n```" for prompt, text in result.samples)
    command = command or "python -m engine.pretrain"
    return f"""---
license: mit
language: en
library_name: transformers
pipeline_tag: text-generation
tags: [llama, tiny, finetui]
---

# finetui-tiny

A tiny Llama-architecture language model trained from scratch on three
public-domain novels, so that finetui can fine-tune something offline, on a
CPU, from the first minute. It writes English-looking prose in the style of
Conan Doyle, Austen and Twain; it knows nothing else and is not useful as an
assistant. It is meant to be fine-tuned in seconds to minutes, not to be good.

## Model

| | |
| --- | --- |
| architecture | `LlamaForCausalLM`, {args.n_layers} layers, hidden {args.d_model}, SwiGLU {args.ffn}, {args.n_heads} heads ({args.n_kv_heads} key/value), RoPE, RMSNorm, tied embeddings |
| parameters | {result.params:,} |
| context | {args.seq_len} tokens |
| tokenizer | byte-level BPE, {args.vocab_size:,} tokens, trained on the same training text; `<s>` is added in front, `</s>` ends a text, `<pad>` pads |
| weights | float32 safetensors, {_mb(size_bytes)} on disk with the tokenizer |

## Data

`sample_data/corpus/` in the finetui repository (see `sample_data/SOURCES.md`):
*The Complete Sherlock Holmes* (Arthur Conan Doyle), *Pride and Prejudice*
(Jane Austen) and *Adventures of Huckleberry Finn* (Mark Twain), public domain,
with Project Gutenberg's licence header and footer stripped.

The last {args.heldout_fraction:.0%} of each book (cut at a paragraph) is held out;
the tokenizer and the model saw only the rest: {metrics["train_tokens"]:,} training
tokens, read {metrics["epochs"]} times ({result.train_tokens_seen:,} tokens seen).

## Training

From scratch with AdamW (betas 0.9/0.95, weight decay {args.weight_decay} on matrices),
{args.steps:,} steps of {args.batch_size} sequences of {args.seq_len} tokens, peak learning
rate {args.lr:g} after {args.warmup} warmup steps, cosine decay to {args.lr * args.min_lr_ratio:g},
gradient clipping at {args.grad_clip}, seed {args.seed}; {metrics["precision"]} autocast on
{metrics["device"]} ({metrics["threads"]} threads), torch {metrics["torch"]}.
Wall time {result.wall_s / 60:.1f} minutes, tokenizer and evaluation included{_speed(metrics)}.
All hyperparameters are in `pretrain_args.json`, all figures in `metrics.json`.

## Held-out evaluation

Every held-out token is scored once, in windows of {args.seq_len - 1} tokens after `<s>`,
with the saved float32 weights. Bits per byte = total nats / ln 2 / UTF-8 bytes of
the held-out text, so it does not depend on the tokenizer.

| | tokens | bytes | loss (nats/token) | bits per byte |
| --- | ---: | ---: | ---: | ---: |
{books}
| **all** | **{h.tokens:,}** | **{h.bytes:,}** | **{h.loss:.4f}** | **{h.bits_per_byte:.4f}** |

## Sample generations

Sampled with the saved generation config (temperature 0.8, top-k 50), seeds {args.seed}, {args.seed + 1}, {args.seed + 2}, {args.sample_tokens} new tokens.

{samples}

## Reproduce

From the root of the finetui repository:

```bash
{command}
```

It trains the tokenizer and the model and rewrites this folder, card included
(`--out DIR` writes elsewhere). The run is seeded; on the same kind of machine
it gives the same held-out figures within noise. bf16 is fast only where the
hardware computes in it (a GPU, or a CPU with AVX512-BF16 or AMX); elsewhere
torch emulates it, several times slower than float32, so use
`--precision fp32` (or `auto`, which picks for you): the figures agree within
noise.

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("sample_data/models/finetui-tiny")
model = AutoModelForCausalLM.from_pretrained("sample_data/models/finetui-tiny")
```

or, with finetui, as the default model: `finetui train DATA` (the model name is `finetui-tiny`).
"""


def write_card(args: PretrainArgs, result: PretrainResult, metrics: dict, command: str | None) -> None:
    from engine.pretrain.train import dir_size

    path = args.out / "README.md"
    path.write_text("")  # counted at its final size below, near enough
    size = dir_size(args.out)
    path.write_text(render_card(args, result, metrics, command, size))
