"""The model card (README.md) written with an export: what it is, what it came from, how it was trained."""

from __future__ import annotations

from typing import Any

from engine.runs import Run


def model_card(run: Run, kind: str, extra: dict[str, Any] | None = None) -> str:
    """A Hugging Face model card naming the base model, the data, the settings and the scorecard."""
    cfg = run.config()
    card = run.metrics()
    front = ["---", f"base_model: {cfg.model.name}", "library_name: " + ("peft" if kind == "adapter" else "transformers"), "tags:", "- finetui", "- lora"]
    if kind == "adapter":
        front.append("- peft")
    front.append("---")
    what = {
        "adapter": "a LoRA adapter (PEFT) for the base model below; load the base, then this adapter",
        "hf": "the base model below with a LoRA adapter merged in: plain transformers weights",
        "gguf": "the base model below with a LoRA adapter merged in, converted to GGUF for llama.cpp and Ollama",
    }[kind]
    lines = [
        *front,
        "",
        f"# {cfg.name or run.id}",
        "",
        f"Fine-tuned with finetui (run `{run.id}`): {what}.",
        "",
        "| setting | value |",
        "| --- | --- |",
        f"| base model | `{cfg.model.name}` (trained on it quantized: {cfg.model.quant}) |",
        f"| data | `{cfg.data.path}` (eval fraction {cfg.data.eval_fraction}) |",
        f"| LoRA | r={cfg.lora.r}, alpha={cfg.lora.alpha}, dropout={cfg.lora.dropout}, all linear layers |",
        f"| training | lr={cfg.train.lr}, epochs={cfg.train.epochs}, max steps={cfg.train.max_steps}, batch={cfg.train.batch_size}"
        f" x {cfg.train.grad_accum}, seq len={cfg.train.seq_len}, seed={cfg.train.seed} |",
    ]
    for key, value in (extra or {}).items():
        lines.append(f"| {key} | {value} |")
    if card is not None and card.scored:
        base = card.baseline
        lines += ["", "Scorecard on the held-out split (token accuracy, loss):", "",
                  f"- baseline: {_pct(base.accuracy)}, {_num(base.loss)}", f"- custom: {_pct(card.custom.accuracy)}, {_num(card.custom.loss)}"]
    return "\n".join(lines) + "\n"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"
