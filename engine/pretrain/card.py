"""The model card (``README.md``) of a pretrained model, written from the saved folder alone.

``complete_card`` loads the model as saved, generates the sample texts,
and renders the card from ``pretrain_args.json`` and ``metrics.json``; so
``python -m engine.pretrain.card DIR`` rewrites the card of any finished run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from engine.paths import SAMPLE_DATA

#: Prompts of the model card's sample generations.
SAMPLE_PROMPTS = ("Sherlock Holmes looked at", "It is a truth universally acknowledged", "Once upon a time")

#: Text from outside the corpus that every card scores: it ships with finetui.
DEFAULT_OUTSIDE = (SAMPLE_DATA / "shakespeare.txt",)
#: What the card says about texts it knows by file name (others are named only).
ABOUT_OUTSIDE = {
    "shakespeare.txt": (
        "`sample_data/shakespeare.txt`, Shakespeare's plays with speaker names: verse drama, not prose, "
        "and the text of finetui's fine-tuning demonstration; the corpus holds no Shakespeare, not even quotations"
    ),
    "huckleberry_finn.txt": (
        "Mark Twain, *Adventures of Huckleberry Finn* (1884), Project Gutenberg text: prose by an author the corpus "
        "does not hold, largely in dialect; it was in finetui-tiny's first corpus and is kept out of this one because "
        "it uses a racial slur routinely (scored only, never printed; the file: "
        "`git show a08cc1a:sample_data/corpus/huckleberry_finn.txt`)"
    ),
}
#: Characters scored of each outside text (its start, cut at a paragraph), to keep the card's checks to minutes;
#: ``outside_chars`` in ``pretrain_args.json`` overrides it.
OUTSIDE_CHARS = 200_000


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
    samples = "\n\n".join(f"**Prompt:** `{s['prompt']}`\n\n```text\n{s['prompt']}{s['text']}\n```" for s in metrics.get("samples", []))
    command = metrics.get("command") or "python -m engine.pretrain"
    n_books = len(metrics["heldout_by_book"])
    seq = args["seq_len"]
    seed = args["seed"]
    heads = f"{args['n_heads']} heads ({args['n_kv_heads']} key/value)"
    weights = (
        f"{metrics.get('weights_dtype', 'float32')} safetensors, loaded in float32 by default (`config.json`); "
        f"the folder is {_mb(size_bytes)} on disk, tokenizer and card included"
    )
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
| architecture | `LlamaForCausalLM`, {args["n_layers"]} layers, hidden {args["d_model"]}, SwiGLU {args["ffn"]}, {heads}, RoPE, RMSNorm, tied embeddings |
| parameters | {metrics["params"]:,} |
| context | {seq} tokens (trained on sequences of {seq}) |
| tokenizer | byte-level BPE, {args["vocab_size"]:,} tokens, trained on the same training text; `<s>` is added in front, `</s>` ends a text, `<pad>` pads |
| weights | {weights} |

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

From the root of the finetui repository, the training run:

```bash
{command}
```

It trains the tokenizer and the model, saves them to the folder (without
`--out`, this one: `sample_data/models/finetui-tiny`), and writes the card.
{_card_command(metrics)}The run is seeded; on the same kind of machine it
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
    guard = ""
    if b.get("guard"):
        raw = b.get("unguarded_hits", [])
        guard = f"""
The saved generation config carries a guard: `bad_words_ids`, the
{b["guard_sequences"]:,} token sequences that spell a listed word (each ending and
letter case, with and without a leading space), which `generate` and the
finetui playground never sample. The corpus holds none of the words, but a
model can spell one out of smaller tokens: the same check with the guard off
found {len(raw) if raw else "none"}{" (generations " + ", ".join(map(str, raw)) + ")" if raw else ""}.
"""
    return f"""
## Blocklist check

{b["generations"]} generations of {b["new_tokens"]} new tokens each, sampled with the saved
generation config from {b["prompts"]} varied prompts (seed {b["seed"]}), were scanned
whole-word and case-insensitively against the {b["words"]:,}-entry profanity and slur list
of `{b["package"]}` {b["version"]}: {verdict}. The check is also a test,
`tests/test_model_blocklist.py`.
{guard}"""


def _card_command(metrics: dict) -> str:
    """How the card's checks were run (again) on the saved model, where not by the training run itself."""
    command = metrics.get("card_command")
    if not command:
        return "`python -m engine.pretrain.card DIR` runs the card's checks again and rewrites the card.\n"
    return f"""The card's checks were then run on the saved model with

```bash
{command}
```

"""


def _reproduced(metrics: dict) -> str:
    """A second run of the training command, compared with this one (``--second-run DIR``)."""
    second = metrics.get("second_run")
    if not second:
        return (
            "\nA second run of the command, compared with this one, is still to be done "
            "(`python -m engine.pretrain.card DIR --second-run DIR2` adds it here).\n"
        )
    rows = [("held-out, all", metrics["heldout"]["bits_per_byte"], second["heldout"]["bits_per_byte"])]
    rows += [
        (f"held-out, {name}", h["bits_per_byte"], second["heldout_by_book"][name]["bits_per_byte"])
        for name, h in metrics["heldout_by_book"].items()
        if name in second["heldout_by_book"]
    ]
    table = "\n".join(f"| {name} | {a:.4f} | {b:.4f} | {b - a:+.4f} |" for name, a, b in rows)
    worst = max(abs(b - a) for _, a, b in rows)
    tokenizer = "identical, byte for byte" if second["tokenizer_identical"] else "different"
    if "weights_identical" in second:
        tokenizer += "; weights " + ("identical, byte for byte" if second["weights_identical"] else "different")
    return f"""
### A second run

`{second["command"]}`, on {second["cpu"]} ({second["threads"]} threads, {second["precision"]}): wall time
{second["wall_s"] / 60:.1f} minutes (this model: {metrics["wall_s"] / 60:.1f}; wall time depends on what else
the machine runs); tokenizer {tokenizer}.
Bits per byte, this model against the second run (largest difference {worst:.4f}):

| | this model | second run | difference |
| --- | ---: | ---: | ---: |
{table}
"""


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


def score_text(model, tokenizer, text: str, seq_len: int, device: str) -> dict:
    """Loss and bits per byte of ``text``, every token scored once, as the held-out split is."""
    import math

    from engine.pretrain.heldout import evaluate, heldout_windows

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    nats, count = evaluate(model, heldout_windows(ids, tokenizer.bos_token_id, seq_len), device, "fp32", 8)
    size = len(text.encode("utf-8"))
    return {"loss": round(nats / count, 4), "bits_per_byte": round(nats / math.log(2) / size, 4), "tokens": count, "bytes": size}


def outside_text(path: Path, chars: int = OUTSIDE_CHARS) -> str:
    """The first ``chars`` characters of ``path``, cut back to the end of a paragraph."""
    text = Path(path).read_text(encoding="utf-8")
    if len(text) <= chars:
        return text
    cut = text.rfind("\n\n", 0, chars)
    return text[: cut + 2 if cut > 0 else chars]


def load_in_float32(out: Path) -> None:
    """Make ``config.json`` ask for float32, whatever dtype the weights are stored in.

    The weights are stored in bfloat16 to halve the file; ``from_pretrained``
    without a ``dtype`` follows the config's ``dtype``, and bfloat16 compute
    is slow on most CPUs, so the folder loads in float32 unless asked otherwise.
    """
    path = Path(out) / "config.json"
    config = json.loads(path.read_text())
    if config.get("dtype") != "float32":
        config["dtype"] = "float32"
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def install_guard(out: Path, model, tokenizer, blocklist) -> None:
    """Write the blocklist's token sequences into the saved ``generation_config.json`` (and ``model``'s), as ``bad_words_ids``.

    The card step, not training, installs it, so ``python -m engine.pretrain.card DIR``
    brings any saved model's guard up to date with the installed list.
    """
    from engine.pretrain.blocklist import bad_words_ids

    model.generation_config.bad_words_ids = bad_words_ids(tokenizer, blocklist)
    model.generation_config.save_pretrained(out)


def load_saved(out: Path, device: str = "cpu"):
    """The model (float32, eval mode) and tokenizer as saved in ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).to(device).eval()
    return model, tokenizer


def complete_card(
    out: Path,
    log: Callable[[str], None] = print,
    device: str = "cpu",
    outside: tuple[Path, ...] = (),
    command: str | None = None,
    second_run: Path | None = None,
) -> dict:
    """Run the card's checks on the saved model in ``out``, add them to ``metrics.json``, and write ``README.md``.

    The checks: sample generations, bits per byte on ``DEFAULT_OUTSIDE`` and
    ``outside`` texts, and the blocklist scan of sampled generations, with the
    guard it installs (``install_guard``) and without. It also sets
    ``config.json`` to load in float32 (``load_in_float32``).
    """
    from engine.pretrain.blocklist import load_blocklist, scan_generations

    out = Path(out)
    args = json.loads((out / "pretrain_args.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    load_in_float32(out)
    model, tokenizer = load_saved(out, device)
    metrics["samples"] = generate_samples(model, tokenizer, args["seed"], args["sample_tokens"], device)
    metrics["outside"] = []
    for path in (*DEFAULT_OUTSIDE, *outside):
        figures = score_text(model, tokenizer, outside_text(path, args.get("outside_chars", OUTSIDE_CHARS)), args["seq_len"], device)
        about = ABOUT_OUTSIDE.get(Path(path).name, f"`{Path(path).name}`")
        metrics["outside"].append({"name": Path(path).name, "about": f"{about}; its first {figures['bytes']:,} bytes", **figures})
        log(f"outside the corpus, {Path(path).name}: {figures['bits_per_byte']:.4f} bits per byte")
    blocklist = load_blocklist()
    install_guard(out, model, tokenizer, blocklist)
    check = dict(n=args.get("check_generations", 200), seed=args["seed"], device=device)
    unguarded = scan_generations(model, tokenizer, blocklist, guard=False, **check)
    scan = scan_generations(model, tokenizer, blocklist, **check)
    metrics["blocklist"] = {
        **{k: v for k, v in scan.items() if k != "texts"},
        "guard_sequences": len(model.generation_config.bad_words_ids),
        "unguarded_hits": [h["generation"] for h in unguarded["hits"]],
    }
    log(f"blocklist: {len(scan['hits'])} hits in {scan['generations']} generations ({len(unguarded['hits'])} without the guard)")
    if command:
        metrics["card_command"] = command
    if second_run is not None:
        other = json.loads((Path(second_run) / "metrics.json").read_text())
        same = (Path(second_run) / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()
        keep = ("command", "cpu", "threads", "precision", "wall_s", "heldout", "heldout_by_book")
        weights = (Path(second_run) / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
        metrics["second_run"] = {**{k: other[k] for k in keep}, "tokenizer_identical": same, "weights_identical": weights}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    write_card(out, args, metrics)
    log(f"model card written to {out / 'README.md'}")
    return metrics


def write_card(out: Path, args: dict, metrics: dict) -> None:
    path = out / "README.md"
    path.write_text("")  # counted at its final size below, near enough
    size = dir_size(out)
    path.write_text(render_card(args, metrics, size))


def dir_size(path: Path) -> int:
    """Bytes of every file under ``path``: the size the card states for the model folder."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.pretrain.card", description="Run the model card's checks on a saved model and rewrite its README.md."
    )
    parser.add_argument("out", type=Path, help="folder of a model saved by python -m engine.pretrain")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument(
        "--outside",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help=f"also score this text from outside the corpus (repeatable; {', '.join(p.name for p in DEFAULT_OUTSIDE)} always is)",
    )
    parser.add_argument("--second-run", type=Path, metavar="DIR", help="a second run of the same command (its folder), compared with this one in the card")
    ns = parser.parse_args(argv)
    if ns.second_run is not None and not (ns.second_run / "metrics.json").is_file():
        print(f"python -m engine.pretrain.card: error: --second-run {ns.second_run}: no metrics.json there", file=sys.stderr)
        return 2
    for path in ns.outside:
        if not path.is_file():
            print(f"python -m engine.pretrain.card: error: --outside {path}: no such file", file=sys.stderr)
            return 2
    for name in ("pretrain_args.json", "metrics.json", "config.json"):
        if not (ns.out / name).is_file():
            print(f"python -m engine.pretrain.card: error: {ns.out / name} is missing: not a folder saved by python -m engine.pretrain", file=sys.stderr)
            return 2
    command = shlex.join(["python", "-m", "engine.pretrain.card", *(sys.argv[1:] if argv is None else argv)])
    complete_card(ns.out, device=ns.device, outside=tuple(ns.outside), command=command, second_run=ns.second_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
