"""What each model family needs from a QLoRA fine-tune, and which layers its adapter goes on.

Most of it is handled by transformers and peft themselves; this module holds
the rest, and the table the README shows (``QUIRKS``) of what differs
between families, so it is written down once, next to the code that acts on it.

- LoRA targets (``lora_targets``): every linear layer of the blocks, by
  name; Conv1D layers too (GPT-2), which bitsandbytes quantizes like
  Linear. The output head is left out (with tied embeddings it *is* the
  input embedding), and so is a mixture-of-experts router: a low-rank
  update to the router would move tokens between experts, which is not what
  an adapter should learn, and peft's "all-linear" resolves to the router
  on transformers 5's MoE models.
- No pad token (Llama 3, Mistral, GPT-2, Pythia): padding uses the eos
  token; packed rows carry no attention mask and pads are never labelled,
  so the pad's identity does not matter (``engine.models.load``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Child names a MoE router goes by, beside an ``experts`` module.
_ROUTER_NAMES = ("gate", "router")


@dataclass(frozen=True)
class Quirk:
    """One family's particulars, as the README's "Model families" table shows them."""

    family: str
    model_types: tuple[str, ...]
    handling: str


QUIRKS: tuple[Quirk, ...] = (
    Quirk("Llama 3", ("llama",), "no pad token: eos pads; template stops at <|eot_id|>"),
    Quirk("Qwen2 / Qwen2.5", ("qwen2",), "no bos token: examples start with the template's <|im_start|>"),
    Quirk("Qwen3", ("qwen3",), "no bos; the template adds an empty <think></think> to the last assistant turn"),
    Quirk("Mistral", ("mistral",), "no pad token: eos pads"),
    Quirk("Gemma 2", ("gemma2",), "embeddings scaled by sqrt(hidden) inside the model; tied embeddings; eager attention (logit soft-capping)"),
    Quirk("Gemma 3 (text)", ("gemma3_text",), "embeddings scaled inside the model; tied embeddings; sliding-window layers"),
    Quirk("Phi-3 / 3.5", ("phi3",), "fused qkv_proj and gate_up_proj: LoRA on the fused layers; template ends an unfinished chat with eos"),
    Quirk("SmolLM3", ("smollm3",), "no bos; tied embeddings; some layers without RoPE (NoPE)"),
    Quirk("OLMo 2", ("olmo2",), "bos = eos = <|endoftext|>; QK-norm"),
    Quirk("Granite", ("granite",), "embedding, residual, attention and logit multipliers from the config"),
    Quirk("GPT-2", ("gpt2",), "Conv1D layers (c_attn, c_fc, c_proj), quantized and adapted like Linear; no pad; no template: default"),
    Quirk("GPT-NeoX (Pythia)", ("gpt_neox",), "fused query_key_value; no pad; no template: default"),
    Quirk("Qwen3-MoE", ("qwen3_moe",), "router skipped; experts are fused 3-D weights, left frozen and unquantized: LoRA on attention"),
    Quirk("Mixtral", ("mixtral",), "as Qwen3-MoE: router skipped, LoRA on attention"),
)


def quirk(model_type: str) -> Quirk | None:
    """The family a config's ``model_type`` belongs to, if finetui knows it."""
    return next((q for q in QUIRKS if model_type in q.model_types), None)


def lora_targets(model: Any) -> list[str]:
    """The names (last dotted part) of the layers the LoRA adapter goes on.

    Linear layers (bitsandbytes' 4- and 8-bit layers are Linear too) and
    Conv1D, minus the output head and any MoE router. Names, not modules, so
    the adapter's config reads the same on every load.
    """
    import torch
    from transformers.pytorch_utils import Conv1D

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    routers = _router_modules(model)
    names: set[str] = set()
    for name, module in model.named_modules():
        if not isinstance(module, (torch.nn.Linear, Conv1D)) or module is head or name in routers:
            continue
        names.add(name.rsplit(".", 1)[-1])
    return sorted(names)


def _router_modules(model: Any) -> set[str]:
    """Full names of MoE routers: a ``gate``/``router`` child of a block that also has ``experts``."""
    found: set[str] = set()
    for name, module in model.named_modules():
        children = dict(module.named_children())
        if "experts" not in children:
            continue
        for child in _ROUTER_NAMES:
            if child in children:
                found.add(f"{name}.{child}" if name else child)
    return found


def is_moe(model: Any) -> bool:
    """Whether the model routes tokens between experts (its adapter then skips the router)."""
    return bool(_router_modules(model))
