"""GPU memory of a fine-tune before it starts, from the model's config alone: will it fit, and on how many devices.

``finetui plan`` and the train screen show this. The model is built on
PyTorch's meta device from its config (``AutoConfig``: a bundled name, a
folder, a cached or downloadable hub id; no weights are read), so the
parameter counts, which layers bitsandbytes quantizes and which LoRA targets
are the real ones for any architecture. What the run keeps in memory is then
counted the way finetui trains (``engine.train.finetune``):

- base weights: the layers bitsandbytes quantizes at 4 bits (NF4 with double
  quantization: 64-weight blocks, an 8-bit scale per block, a float32 scale
  per 256 blocks) or 8 bits, the rest (embeddings, lm_head, norms, fused MoE
  experts) in float32, because ``prepare_model_for_kbit_training`` upcasts
  them; unquantized, everything in the compute dtype;
- LoRA: rank x (in + out) per adapted layer (``engine.models.families.lora_targets``:
  every linear layer but the output head and MoE routers), in float32, with float32 gradients and
  AdamW's two float32 moments (8 bytes a parameter) or paged 8-bit AdamW's
  two 8-bit moments (2 bytes);
- activations saved for the backward pass, per token and decoder layer (see
  ``layer_bytes_per_token``), and with gradient checkpointing only each
  layer's input plus one layer recomputed at a time;
- the logits and the loss: batch x sequence x vocabulary, in bf16, its
  float32 copy and log-softmax, then their gradients; at a 128k vocabulary
  this outweighs all the other activations of a checkpointed run;
- the CUDA context (kernels, cuBLAS workspace) of the training process.

Importing this module costs nothing: torch and transformers are imported by
the functions that need them.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from engine.config import LoraConfig, ModelConfig, TrainConfig
from engine.errors import FinetuiError, Hint

Strategy = Literal["ddp", "fsdp"]
OPTIMIZERS = ("adamw", "paged_adamw_8bit")
GIB = 1024**3

#: NF4 with double quantization: 4 bits, an 8-bit absmax per 64 weights, a float32 absmax per 256 blocks.
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)
#: LLM.int8(): a byte a weight (the float32 scale per row is counted from the row's width).
INT8_BYTES_PER_PARAM = 1.0
#: Optimizer state bytes per trainable parameter: AdamW's two float32 moments; bitsandbytes' two 8-bit
#: moments plus a float32 absmax per 256 values each.
OPTIMIZER_BYTES = {"adamw": 8.0, "paged_adamw_8bit": 2.0 + 2 * 4 / 256}
#: LoRA weights and their gradients stay float32 (peft upcasts adapters on a bf16 base).
LORA_BYTES = 4
#: Bytes per element of the logits buffer at its peak: bf16 logits (2), their float32 copy for the loss (4),
#: the log-softmax saved for backward (4), and the float32 gradient flowing back (4), less the copy freed by then.
LOGITS_BYTES = 12
#: Bytes per token and hidden unit with Liger's fused cross-entropy: a float32 chunk of logits and its gradient.
LIGER_BYTES = 8
#: The training process's CUDA context: the driver's context, loaded kernels and cuBLAS workspaces.
CONTEXT_BYTES = int(0.6 * GIB)
#: The environment variable that plans for a card of this many GiB instead of the detected one.
GPU_MEMORY_ENV = "FINETUI_GPU_MEMORY"


class PlanError(FinetuiError):
    """The model's config can't be read, or a setting is out of range, as one line."""


@dataclass(frozen=True)
class Linear:
    """A linear layer's shape and how many of them share it."""

    inputs: int
    outputs: int
    count: int


@dataclass(frozen=True)
class ModelShape:
    """What memory depends on, read from a model's config: counts from the meta-device model, sizes from the config."""

    name: str
    params: int
    quantized: int
    """Parameters bitsandbytes quantizes (linear layers other than the output head)."""
    quantized_rows: int
    """Output rows of those layers: LLM.int8() keeps a float32 scale per row."""
    targets: tuple[Linear, ...]
    """The layers LoRA adapts, as training picks them (``lora_targets``)."""
    layers: int
    hidden: int
    q_dim: int
    kv_dim: int
    intermediate: int
    """The MLP's width per token: the dense MLP's, or the routed experts' together (top-k times the expert's)."""
    vocab: int

    @property
    def largest_layer(self) -> int:
        """Parameters of one decoder layer, on average: what FSDP gathers at once."""
        return self.quantized // max(1, self.layers)


#: Shapes of published models, by name, for planning without the model on disk (and for tests).
#: The values are the models' own config.json fields (Llama 2 7B: the QLoRA paper's 7B; Llama 3.x: torchtune's).
PRESETS: dict[str, dict[str, Any]] = {
    "llama-2-7b": dict(
        vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32
    ),
    "llama-3-8b": dict(
        vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8
    ),
    "llama-3.2-3b": dict(
        vocab_size=128256,
        hidden_size=3072,
        intermediate_size=8192,
        num_hidden_layers=28,
        num_attention_heads=24,
        num_key_value_heads=8,
        tie_word_embeddings=True,
    ),
    "llama-3.2-1b": dict(
        vocab_size=128256,
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        tie_word_embeddings=True,
    ),
}
PRESET_PREFIX = "shape:"


def model_shape(spec: str, trust_remote_code: bool = False, on_fetch: Callable[[str], None] | None = None) -> ModelShape:
    """The shape of ``spec``: ``shape:NAME`` (a preset), a bundled name, a folder, or a hub id (its config only).

    ``on_fetch`` hears, in words, that the config is read from the Hub: with
    no network that takes the Hub's retries, tens of seconds. Raises
    ``PlanError`` with one line when there is no config to read.
    """
    if spec.startswith(PRESET_PREFIX):
        name = spec.removeprefix(PRESET_PREFIX)
        if name not in PRESETS:
            raise PlanError(f"no shape preset '{name}': choose one of {', '.join(PRESETS)}", "not_found", Hint("model.name"))
        from transformers import LlamaConfig

        return shape_from_config(LlamaConfig(**PRESETS[name]), spec)
    return shape_from_config(_read_config(spec, trust_remote_code, on_fetch), spec)


def _read_config(spec: str, trust_remote_code: bool, on_fetch: Callable[[str], None] | None) -> Any:
    from engine.models import ModelError, resolve_model
    from engine.models.load import check_remote_code
    from engine.models.probe import one_line
    from engine.models.resolve import hub_failure, is_hub_id, offline_error

    try:
        resolved = resolve_model(spec, download=False)
        check_remote_code(resolved, trust_remote_code)
        source: str = str(resolved.path)
        from_hub = False
    except ModelError as error:
        if error.code == "offline" and is_hub_id(spec):
            error = offline_error(spec, doing="read the config of")
        if error.code != "not_found" or not is_hub_id(spec):
            raise PlanError(error.message, error.code, error.hint or Hint("model.name")) from None
        source, from_hub = spec, True  # a hub id not on disk: AutoConfig fetches its config.json alone
    import logging

    from transformers import AutoConfig

    # huggingface_hub logs each failed request as well; the one line below says it.
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    if from_hub and on_fetch is not None:
        on_fetch(f"reading the config of '{spec}' from the Hugging Face Hub…")
    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    except Exception as exc:  # a field of the wrong type fails transformers' validation (not a ValueError), among others
        failure = hub_failure(spec, exc, doing="read the config of") if from_hub else None
        if failure is not None:
            raise PlanError(failure.message, failure.code, Hint("model.name")) from None
        where = f"'{spec}'" if from_hub else str(Path(source) / "config.json")
        raise PlanError(f"cannot read the config of {where}: {one_line(exc)}", "not_found", Hint("model.name")) from None


def shape_from_config(config: Any, name: str) -> ModelShape:
    """Build the model on the meta device (no memory, no weights) and count what each part holds."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.pytorch_utils import Conv1D
    from transformers.quantizers.base import get_keys_to_not_convert

    from engine.models.families import lora_targets

    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanError(f"'{name}' is not a causal language model finetui can train: {exc}", "not_a_model", Hint("model.name")) from None
    head = model.get_output_embeddings()
    kept = set(get_keys_to_not_convert(model))
    adapted = set(lora_targets(model))
    quantized = rows = 0
    targets: dict[tuple[int, int], int] = {}
    for module_name, module in model.named_modules():
        if not isinstance(module, (torch.nn.Linear, Conv1D)) or module is head:
            continue
        inputs, outputs = (module.in_features, module.out_features) if isinstance(module, torch.nn.Linear) else module.weight.shape
        if module_name.rsplit(".", 1)[-1] in adapted:  # peft matches target names by the module name's last part
            targets[(inputs, outputs)] = targets.get((inputs, outputs), 0) + 1
        if module_name not in kept:
            quantized += inputs * outputs
            rows += outputs
    text = config.get_text_config()
    hidden = text.hidden_size
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or hidden // heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    experts = getattr(text, "num_experts_per_tok", None)
    intermediate = experts * text.moe_intermediate_size if experts and getattr(text, "moe_intermediate_size", None) else _mlp_width(text, hidden)
    return ModelShape(
        name=name,
        params=sum(p.numel() for p in model.parameters()),
        quantized=quantized,
        quantized_rows=rows,
        targets=tuple(Linear(i, o, n) for (i, o), n in sorted(targets.items())),
        layers=text.num_hidden_layers,
        hidden=hidden,
        q_dim=heads * head_dim,
        kv_dim=kv_heads * head_dim,
        intermediate=intermediate,
        vocab=text.vocab_size,
    )


def _mlp_width(text: Any, hidden: int) -> int:
    width = getattr(text, "intermediate_size", None) or getattr(text, "n_inner", None)
    return int(width) if width else 4 * hidden


@dataclass(frozen=True)
class Gpu:
    """A device to plan for: its name and memory (free: what a new process can have)."""

    name: str
    total: int
    free: int
    count: int = 1


def detect_gpu() -> Gpu | None:
    """The first CUDA device and its free memory, or ``$FINETUI_GPU_MEMORY`` GiB when set; None without either."""
    override = os.environ.get(GPU_MEMORY_ENV, "").strip()
    if override:
        return planned_gpu(parse_gib(override, GPU_MEMORY_ENV))
    import torch

    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info(0)
    # This process now holds a context of its own, which the run's process will hold instead.
    return Gpu(torch.cuda.get_device_name(0), total, min(total, free + CONTEXT_BYTES), torch.cuda.device_count())


def planned_gpu(gib: float) -> Gpu:
    """A card of ``gib`` GiB, all of it free: to plan for a machine other than this one."""
    size = int(gib * GIB)
    return Gpu(f"a {gib:g} GiB card", size, size)


#: Far more memory than any one card has (the largest hold a few hundred GiB): a size past it is a typo.
MAX_GPU_GIB = 65_536


def parse_gib(text: str, what: str) -> float:
    """``24``, ``24GiB`` or ``24G`` as GiB; ``PlanError`` naming ``what`` otherwise."""
    raw = text.strip().lower().removesuffix("ib").removesuffix("b").removesuffix("g")
    try:
        value = float(raw)
    except ValueError:
        raise PlanError(f"{what} must be a size in GiB like 24 or 24GiB, not {text!r}", "invalid") from None
    if not math.isfinite(value) or value <= 0:
        raise PlanError(f"{what} must be a positive size in GiB, not {text!r}", "invalid")
    if value > MAX_GPU_GIB:
        raise PlanError(f"{what} must be at most {MAX_GPU_GIB:,} GiB (no card comes near it), not {text!r}", "invalid")
    return value


@dataclass(frozen=True)
class Breakdown:
    """Bytes on one device, part by part."""

    base: int
    lora: int
    grads: int
    optimizer: int
    activations: int
    logits: int
    context: int = CONTEXT_BYTES

    @property
    def total(self) -> int:
        return self.base + self.lora + self.grads + self.optimizer + self.activations + self.logits + self.context


@dataclass(frozen=True)
class Plan:
    """A run's memory on each device: the settings it is for, and the figures with and without checkpointing."""

    shape: ModelShape
    quant: str
    lora_r: int
    lora_dropout: float
    batch_size: int
    seq_len: int
    grad_accum: int
    devices: int
    optim: str
    checkpointing: bool
    lora_params: int
    single: Breakdown
    """One device holding everything: one GPU, or each GPU under DDP."""
    without_checkpointing: int
    """Activation bytes if every layer's activations are kept (``single.activations`` is with checkpointing when it is on)."""
    with_checkpointing: int
    fsdp: Breakdown
    """Each of ``devices`` GPUs under FSDP: weights, LoRA, gradients and optimizer states sharded."""
    gpu: Gpu | None = None
    liger: bool = False

    @property
    def global_batch(self) -> int:
        """Sequences per optimizer step across all devices."""
        return self.batch_size * self.grad_accum * self.devices

    @property
    def global_tokens(self) -> int:
        return self.global_batch * self.seq_len

    def per_device(self, strategy: Strategy) -> Breakdown:
        return self.single if strategy == "ddp" or self.devices == 1 else self.fsdp

    @property
    def per_token(self) -> float:
        """Bytes on a device for each token of a step (activations and logits): what a smaller batch saves."""
        return (self.single.activations + self.single.logits) / (self.batch_size * self.seq_len)

    @property
    def fixed(self) -> int:
        """Bytes on a device whatever the batch: weights, LoRA, gradients, optimizer states, context."""
        return self.single.total - self.single.activations - self.single.logits

    def fits(self, strategy: Strategy = "ddp") -> bool | None:
        """Whether each device has room under ``strategy``; None when there is no GPU to compare with."""
        return None if self.gpu is None else self.per_device(strategy).total <= self.gpu.free

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["global_batch"] = self.global_batch
        data["strategy"] = choose_strategy(self, self.devices)
        for name in ("single", "fsdp"):
            data[name]["total"] = getattr(self, name).total
        data["fits"] = self.fits(data["strategy"])
        return data


def layer_bytes_per_token(shape: ModelShape, stream: int, compute: int, dropout: bool, lora_r: int, mask: int = 1) -> int:
    """Bytes one decoder layer saves for backward, per token (a gated-MLP, Llama-style layer; SDPA attention).

    Frozen base layers save no input (their weights need no gradient); the
    LoRA path does. So a layer keeps:

    - each norm's input, in the residual stream's dtype (float32 after
      ``prepare_model_for_kbit_training``);
    - attention: the rotated q and k, v, and the output (which is also
      o_proj's input);
    - MLP: the gate's and up's outputs and the activation's output;
    - each adapted layer's LoRA A output (rank values);
    - with LoRA dropout, each adapted layer's own dropped-out copy of its
      input and the mask (``mask`` bytes an element: a bool on CUDA's fused
      dropout; the CPU's keeps a float32 mask); without dropout, the inputs
      themselves: the norms' outputs and down_proj's input.

    ``tests/test_plan.py`` checks this against the bytes autograd saves on a
    real model on the CPU.
    """
    h, q, kv, i = shape.hidden, shape.q_dim, shape.kv_dim, shape.intermediate
    adapted_layers = sum(t.count for t in shape.targets) / max(1, shape.layers)
    kept = 2 * stream * h + compute * (q + 2 * kv) + compute * q + 3 * compute * i + int(adapted_layers * lora_r * compute)
    if dropout:
        # q, k, v, gate and up read the normed stream; o the attention's output; down the MLP's product.
        return kept + 5 * (stream + mask) * h + (compute + mask) * q + (compute + mask) * i
    return kept + 2 * stream * h + compute * i


def plan(
    shape: ModelShape,
    quant: str = "4bit",
    lora_r: int = 16,
    batch_size: int = 4,
    seq_len: int = 512,
    grad_accum: int = 1,
    devices: int = 1,
    optim: str = "adamw",
    checkpointing: bool = True,
    lora_dropout: float = 0.05,
    gpu: Gpu | None = None,
    liger: bool = False,
) -> Plan:
    """GPU memory of a QLoRA run of ``shape`` on each of ``devices`` GPUs (bf16 compute), broken down.

    ``liger``: Liger's fused linear cross-entropy computes the logits a
    chunk of tokens at a time (about as many logits as the hidden states
    hold), so the full logits never exist.
    """
    if optim not in OPTIMIZERS:
        raise PlanError(f"unknown optimizer '{optim}': choose one of {', '.join(OPTIMIZERS)}", "not_a_choice")
    if quant not in ("4bit", "8bit", "none"):
        raise PlanError(f"unknown quantization '{quant}': choose one of 4bit, 8bit, none", "not_a_choice", Hint("model.quant"))
    for what, value in (("lora_r", lora_r), ("batch_size", batch_size), ("seq_len", seq_len), ("grad_accum", grad_accum), ("devices", devices)):
        if value < 1:
            raise PlanError(f"{what} must be at least 1, not {value}", "out_of_range")
    compute = 2  # bf16, or fp16 on older cards: two bytes either way
    rest = shape.params - shape.quantized
    if quant == "4bit":
        base, stream = NF4_BYTES_PER_PARAM * shape.quantized + 4 * rest, 4
    elif quant == "8bit":
        base, stream = INT8_BYTES_PER_PARAM * shape.quantized + 4 * shape.quantized_rows + 4 * rest, 4
    else:
        base, stream = compute * shape.params, compute
    lora_params = sum(lora_r * (t.inputs + t.outputs) * t.count for t in shape.targets)
    tokens = batch_size * seq_len
    layer = layer_bytes_per_token(shape, stream, compute, lora_dropout > 0, lora_r) * tokens
    kept = layer * shape.layers
    checkpointed = shape.layers * stream * shape.hidden * tokens + layer
    logits = LIGER_BYTES * tokens * shape.hidden if liger else LOGITS_BYTES * tokens * shape.vocab
    activations = checkpointed if checkpointing else kept
    single = Breakdown(
        base=int(base),
        lora=LORA_BYTES * lora_params,
        grads=LORA_BYTES * lora_params,
        optimizer=int(OPTIMIZER_BYTES[optim] * lora_params),
        activations=activations,
        logits=logits,
    )
    # FSDP shards what is stored once and gathers one layer's weights at a time (two, with prefetch).
    gathered = 2 * (base / max(1, shape.params)) * shape.largest_layer if devices > 1 else 0
    fsdp = Breakdown(
        base=int(base / devices + gathered),
        lora=math.ceil(single.lora / devices),
        grads=math.ceil(single.grads / devices),
        optimizer=math.ceil(single.optimizer / devices),
        activations=activations,
        logits=logits,
    )
    return Plan(
        shape, quant, lora_r, lora_dropout, batch_size, seq_len, grad_accum, devices, optim, checkpointing,
        lora_params, single, kept, checkpointed, fsdp, gpu, liger,
    )


def choose_strategy(plan: Plan, devices: int) -> Strategy:
    """DDP or FSDP for ``devices`` processes, from ``plan``'s per-device figures.

    DDP whenever it can: each device holds the whole 4-bit model, nothing is
    gathered between layers, and it is the simplest to resume. FSDP only when
    more than one device is used, a GPU was found, and a full copy does not
    fit on each device (the FSDP-QLoRA recipe), even when the shards don't
    fit either: they come closest, and the plan says by how much. Without a
    GPU to compare with (the CPU with gloo), DDP.
    """
    if devices <= 1 or plan.gpu is None or plan.fits("ddp"):
        return "ddp"
    return "fsdp"


#: A GPU run's compute capability when none is at hand: Ampere (bf16), as the cards people rent are.
AMPERE = (8, 0)


def plan_run(model: ModelConfig, lora: LoraConfig, train: TrainConfig, gpu: Gpu | None, on_fetch: Callable[[str], None] | None = None) -> Plan:
    """The plan of a run with these settings on ``gpu``, each ``auto`` setting resolved as a GPU run resolves it.

    ``train.devices`` ``all`` is every GPU found (one without a GPU);
    ``on_fetch`` is told when the model's config comes from the Hub.
    Raises ``PlanError`` (the config can't be read) or the GPU choices'
    ``GpuSettingError`` (a setting no GPU run could honour).
    """
    from engine import gpu as choices

    device = choices.Device(gpu.name if gpu else "a GPU", AMPERE)
    devices = (gpu.count if gpu else 1) if train.devices == "all" else int(train.devices)
    return plan(
        model_shape(model.name, model.trust_remote_code, on_fetch),
        quant=model.quant,
        lora_r=lora.r,
        lora_dropout=lora.dropout,
        batch_size=train.batch_size,
        seq_len=train.seq_len,
        grad_accum=train.grad_accum,
        devices=devices,
        optim=choices.optimizer(device, train.optim),
        checkpointing=choices.checkpointing(device, train.checkpointing),
        liger=choices.liger(device, train.liger),
        gpu=gpu,
    )


def main(argv: list[str]) -> int:
    """``python -m engine.plan '{"model": {...}, "lora": {...}, "train": {...}}'``: the plan as JSON on the GPU found here.

    The TUI runs this in a process of its own (it never imports torch), and
    reads ``{"error": ...}`` for a plan that can't be made.
    """
    try:
        sections = json.loads(argv[0])
        result = plan_run(ModelConfig(**sections["model"]), LoraConfig(**sections["lora"]), TrainConfig(**sections["train"]), detect_gpu())
    except (FinetuiError, ValueError, KeyError, TypeError, IndexError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps(result.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
