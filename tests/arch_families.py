"""Tiny random-init models of the families people fine-tune, each with its tokenizer's special tokens
and its published chat template (tests/fixtures/chat_templates), built in the test run.

Every model is 2 layers, hidden size 64, built from the family's own config
class, so the real loading, quantization, LoRA and generation paths of that
architecture run; only the sizes are small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.tiny_model import CORPUS

TEMPLATES = Path(__file__).parent / "fixtures" / "chat_templates"
#: Sizes shared by every family: 4-bit kernels want rows of at least 32.
HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN = 64, 2, 4, 2, 16, 128


@dataclass(frozen=True)
class FamilySpec:
    """How to build one family's tiny model and tokenizer."""

    name: str
    config_class: str
    template: str | None
    """A file in ``TEMPLATES``; None for base-model families that publish none."""
    bos: str | None
    eos: str
    pad: str | None
    specials: tuple[str, ...] = ()
    end_of_turn: str | None = None
    """A token the instruct model's generation config also stops at (Gemma's <end_of_turn>, Phi-3's <|end|>)."""
    config: dict[str, Any] = field(default_factory=dict)


_DECODER = {
    "hidden_size": HIDDEN,
    "intermediate_size": FFN,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": KV_HEADS,
    "max_position_embeddings": 512,
}
_QWEN = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

FAMILIES: tuple[FamilySpec, ...] = (
    FamilySpec("llama3", "LlamaConfig", "meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", None,
               ("<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|python_tag|>"), config=_DECODER),
    FamilySpec("qwen2", "Qwen2Config", "Qwen-Qwen2.5-7B-Instruct.jinja", None, "<|im_end|>", "<|endoftext|>", _QWEN, config=_DECODER),
    FamilySpec("qwen3", "Qwen3Config", "Qwen-Qwen3-0.6B.jinja", None, "<|im_end|>", "<|endoftext|>", (*_QWEN, "<think>", "</think>"),
               config={**_DECODER, "head_dim": HEAD_DIM}),
    FamilySpec("mistral", "MistralConfig", "mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "</s>", None,
               ("<unk>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_CALLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"),
               config={**_DECODER, "head_dim": HEAD_DIM, "sliding_window": None}),
    FamilySpec("gemma2", "Gemma2Config", "google-gemma-2-2b-it.jinja", "<bos>", "<eos>", "<pad>", ("<start_of_turn>", "<end_of_turn>"),
               end_of_turn="<end_of_turn>", config={**_DECODER, "head_dim": HEAD_DIM, "query_pre_attn_scalar": HEAD_DIM, "sliding_window": 64}),
    FamilySpec("gemma3", "Gemma3TextConfig", "google-gemma-3-it.jinja", "<bos>", "<eos>", "<pad>", ("<start_of_turn>", "<end_of_turn>", "<start_of_image>"),
               end_of_turn="<end_of_turn>", config={**_DECODER, "head_dim": HEAD_DIM, "query_pre_attn_scalar": HEAD_DIM, "sliding_window": 64}),
    FamilySpec("phi3", "Phi3Config", "microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>", "<|endoftext|>",
               ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"), end_of_turn="<|end|>", config=_DECODER),
    FamilySpec("smollm3", "SmolLM3Config", "HuggingFaceTB-SmolLM3-3B.jinja", None, "<|im_end|>", None, (*_QWEN, "<think>", "</think>"),
               config=_DECODER),
    FamilySpec("olmo2", "Olmo2Config", "allenai-OLMo-2-Instruct.jinja", "<|endoftext|>", "<|endoftext|>", "<|pad|>",
               ("<|system|>", "<|user|>", "<|assistant|>"), config=_DECODER),
    FamilySpec("granite", "GraniteConfig", "ibm-granite-granite-3.3-2B-Instruct.jinja", "<|end_of_text|>", "<|end_of_text|>", "<|end_of_text|>",
               ("<|start_of_role|>", "<|end_of_role|>", "<|tool_call|>"),
               config={**_DECODER, "embedding_multiplier": 12.0, "logits_scaling": 8.0, "residual_multiplier": 0.22, "attention_multiplier": 0.0078125}),
    FamilySpec("gpt2", "GPT2Config", None, "<|endoftext|>", "<|endoftext|>", None,
               config={"n_embd": HIDDEN, "n_layer": LAYERS, "n_head": HEADS, "n_positions": 512}),
    FamilySpec("gpt_neox", "GPTNeoXConfig", None, "<|endoftext|>", "<|endoftext|>", None,
               config={"hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
                       "max_position_embeddings": 512}),
    FamilySpec("qwen3_moe", "Qwen3MoeConfig", "Qwen-Qwen3-0.6B.jinja", None, "<|im_end|>", "<|endoftext|>", (*_QWEN, "<think>", "</think>"),
               config={**_DECODER, "head_dim": HEAD_DIM, "moe_intermediate_size": 32, "num_experts": 4, "num_experts_per_tok": 2}),
)


def spec(name: str) -> FamilySpec:
    return next(f for f in FAMILIES if f.name == name)


def make_tokenizer(family: FamilySpec, out: Path) -> Any:
    """A byte-level BPE tokenizer with the family's special tokens and published chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = list(dict.fromkeys(t for t in (family.bos, family.eos, family.pad, *family.specials) if t))
    template = (TEMPLATES / family.template).read_text(encoding="utf-8") if family.template else None
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2000 + len(specials), special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    # The template's own words (a default system prompt, a date line) are in the corpus too, so that
    # they take a few tokens, as in the real vocabularies, not one per character.
    tok.train_from_iterator([CORPUS * 20, (template or "") * 20], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=family.bos, eos_token=family.eos, pad_token=family.pad)
    fast.chat_template = template
    fast.save_pretrained(out)
    return fast


def make_family_model(family: FamilySpec, out: Path, seed: int = 0) -> Path:
    """The family's tiny model and tokenizer saved in ``out`` (safetensors), as a hub download would be."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    tokenizer = make_tokenizer(family, out)
    eos = [tokenizer.eos_token_id] + ([tokenizer.convert_tokens_to_ids(family.end_of_turn)] if family.end_of_turn else [])
    config = getattr(transformers, family.config_class)(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos if len(eos) > 1 else eos[0],
        pad_token_id=tokenizer.pad_token_id,
        **family.config,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out)
    return out
